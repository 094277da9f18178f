using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// Page-locked host memory mapped into the device address space (<c>cuMemHostAlloc</c> with
/// <c>DEVICEMAP | PORTABLE</c>): kernels read and write it through <see cref="DevicePointer"/> while the host uses
/// <see cref="HostPointer"/>. Used for counters the host polls and for kernel diagnostics blocks.
/// </summary>
internal sealed class PinnedHostMemory : DeferredReleaseHandle
{
    private readonly int _device;

    private PinnedHostMemory(int device, long bytes)
    {
        _device = device;
        Bytes = bytes;
    }

    /// <summary>The host address.</summary>
    public nint HostPointer => handle;

    /// <summary>The address kernels use (equal to <see cref="HostPointer"/> under unified addressing).</summary>
    public nint DevicePointer { get; private set; }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }


    /// <summary>Allocates <paramref name="bytes"/> (at least 1) of zero-filled mapped pinned memory, using <paramref name="device"/>'s context.</summary>
    public static unsafe PinnedHostMemory Allocate(int device, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        DrainDeferred();
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        var memory = new PinnedHostMemory(device, bytes);
        Check(CudaDriver.cuMemHostAlloc(out nint host, (nuint)bytes, CudaDriver.MemHostAllocDeviceMap | CudaDriver.MemHostAllocPortable));
        memory.SetHandle(host);
        Check(CudaDriver.cuMemHostGetDevicePointer_v2(out nint devicePointer, host, 0));
        memory.DevicePointer = devicePointer;
        NativeMemory.Clear((void*)host, (nuint)bytes);
        return memory;
    }

    /// <summary>A host view of the whole block as <typeparamref name="T"/> elements.</summary>
    public unsafe Span<T> AsSpan<T>()
        where T : unmanaged => new((void*)handle, checked((int)(Bytes / Unsafe.SizeOf<T>())));

    /// <inheritdoc />
    protected override Func<bool> CreateRelease()
    {
        (int device, nint host) = (_device, handle);
        return () =>
        {
            using CudaContextScope scope = CudaDevice.Get(device).Activate();
            return CudaDriver.cuMemFreeHost(host) == CuResult.Success;
        };
    }
}
