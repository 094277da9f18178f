using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_MEMHOSTALLOC_PORTABLE</c>: pinned for every context, not only the current one.</summary>
    public const uint MemHostAllocPortable = 0x01;

    /// <summary><c>CU_MEMHOSTALLOC_DEVICEMAP</c>: mapped into the device address space.</summary>
    public const uint MemHostAllocDeviceMap = 0x02;

    /// <summary><c>CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES</c> (an <c>int</c> flag).</summary>
    public const int MemPoolAttributeReuseAllowInternalDependencies = 3;

    /// <summary><c>CU_MEMPOOL_ATTR_RELEASE_THRESHOLD</c> (a <c>cuuint64_t</c> in bytes).</summary>
    public const int MemPoolAttributeReleaseThreshold = 4;

    /// <summary><c>CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT</c> (a <c>cuuint64_t</c>: bytes the pool holds from the driver).</summary>
    public const int MemPoolAttributeReservedMemCurrent = 5;

    /// <summary><c>CU_MEMPOOL_ATTR_USED_MEM_CURRENT</c> (a <c>cuuint64_t</c>: bytes of the pool's live allocations).</summary>
    public const int MemPoolAttributeUsedMemCurrent = 7;

    [LibraryImport(Library)]
    public static partial CuResult cuMemAlloc_v2(out nint devicePointer, nuint bytes);

    [LibraryImport(Library)]
    public static partial CuResult cuMemFree_v2(nint devicePointer);

    [LibraryImport(Library)]
    public static partial CuResult cuMemAllocAsync(out nint devicePointer, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuMemFreeAsync(nint devicePointer, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGetDefaultMemPool(out nint pool, int device);

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuMemPoolSetAttribute(nint pool, int attribute, void* value);

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuMemPoolGetAttribute(nint pool, int attribute, void* value);

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuMemPoolSetAccess(nint pool, CuMemAccessDesc* map, nuint count);

    [LibraryImport(Library)]
    public static partial CuResult cuMemHostAlloc(out nint hostPointer, nuint bytes, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuMemHostGetDevicePointer_v2(out nint devicePointer, nint hostPointer, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuMemFreeHost(nint hostPointer);

    [LibraryImport(Library)]
    public static partial CuResult cuMemcpy(nint destination, nint source, nuint bytes);

    [LibraryImport(Library)]
    public static partial CuResult cuMemcpyAsync(nint destination, nint source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuMemcpyPeerAsync(nint destination, nint destinationContext, nint source, nint sourceContext, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuMemsetD8_v2(nint destination, byte value, nuint count);

    [LibraryImport(Library)]
    public static partial CuResult cuMemsetD8Async(nint destination, byte value, nuint count, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuMemsetD32Async(nint destination, uint value, nuint count, nint stream);
}
