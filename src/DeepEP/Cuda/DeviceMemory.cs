using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// Owned device memory. <see cref="AllocateAsync"/> takes it from the device's stream-ordered pool (freed on the
/// same stream when disposed, so the pool can hand it out again in stream order); <see cref="Allocate"/> makes a
/// plain <c>cuMemAlloc</c> allocation, the kind CUDA IPC can export (communication buffers). Never managed memory.
/// </summary>
internal sealed class DeviceMemory : DeferredReleaseHandle
{
    private readonly int _device;
    private readonly nint _freeStream;
    private readonly SafeHandle? _freeStreamOwner;
    private readonly bool _pooled;

    private DeviceMemory(int device, long bytes, bool pooled, nint freeStream, SafeHandle? freeStreamOwner)
    {
        _device = device;
        _pooled = pooled;
        _freeStream = freeStream;
        _freeStreamOwner = freeStreamOwner;
        Bytes = bytes;
    }

    /// <summary>The device address of the first byte (0 for an empty allocation).</summary>
    public nint Pointer => handle;

    /// <summary>Device ordinal.</summary>
    public int Device => _device;

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }


    /// <summary>
    /// Allocates <paramref name="bytes"/> from <paramref name="device"/>'s default pool, ordered on
    /// <paramref name="stream"/> (the library stream when null): usable by work queued after this call on that stream.
    /// A borrowed stream must outlive the allocation, which is freed on it.
    /// </summary>
    public static DeviceMemory AllocateAsync(int device, long bytes, CudaStream? stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        CudaDevice owner = CudaDevice.Get(device);
        CudaStream target = stream ?? owner.LibraryStream;
        if (bytes == 0)
        {
            return new DeviceMemory(device, 0, pooled: false, 0, null);
        }
        using CudaContextScope scope = owner.Activate();
        owner.EnsurePoolConfigured();
        SafeHandle? streamOwner = target.AddRef();
        var memory = new DeviceMemory(device, bytes, pooled: true, target.Handle, streamOwner);
        CuResult result = CudaDriver.cuMemAllocAsync(out nint pointer, (nuint)bytes, target.Handle);
        if (result != CuResult.Success)
        {
            streamOwner?.DangerousRelease();
            throw CudaCheck.Exception(result, $"cuMemAllocAsync({bytes} bytes on cuda:{device})");
        }
        memory.SetHandle(pointer);
        return memory;
    }

    /// <summary>Allocates <paramref name="bytes"/> with <c>cuMemAlloc_v2</c> (synchronous; exportable through CUDA IPC).</summary>
    public static DeviceMemory Allocate(int device, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        CudaDevice owner = CudaDevice.Get(device);
        var memory = new DeviceMemory(device, bytes, pooled: false, 0, null);
        if (bytes == 0)
        {
            return memory;
        }
        DrainDeferred();
        using CudaContextScope scope = owner.Activate();
        Check(CudaDriver.cuMemAlloc_v2(out nint pointer, (nuint)bytes));
        memory.SetHandle(pointer);
        return memory;
    }

    /// <summary>
    /// Copies <paramref name="bytes"/> between any two addresses (host or device; unified addressing tells which)
    /// and returns when the copy is done. The copy is ordered after the work queued on <paramref name="device"/>'s
    /// library stream; work on other streams must be ordered before it by the caller (events).
    /// </summary>
    public static void Copy(int device, nint destination, nint source, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        nint stream = owner.LibraryStream.Handle;
        Check(CudaDriver.cuMemcpyAsync(destination, source, (nuint)bytes, stream));
        Check(CudaDriver.cuStreamSynchronize(stream));
    }

    /// <summary>Queues a copy of <paramref name="bytes"/> on <paramref name="stream"/> (the library stream when null).</summary>
    public static void CopyAsync(int device, nint destination, nint source, long bytes, CudaStream? stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        Check(CudaDriver.cuMemcpyAsync(destination, source, (nuint)bytes, (stream ?? owner.LibraryStream).Handle));
        DeviceWorkMeter.CopiedBytes.Add(bytes);
    }

    /// <summary>
    /// Queues a copy between two devices' memory on <paramref name="stream"/> (<paramref name="destinationDevice"/>'s
    /// library stream when null) with explicit contexts; works without peer access (the driver stages it).
    /// </summary>
    public static void CopyPeerAsync(int destinationDevice, nint destination, int sourceDevice, nint source, long bytes, CudaStream? stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }
        CudaDevice target = CudaDevice.Get(destinationDevice);
        CudaDevice origin = CudaDevice.Get(sourceDevice);
        using CudaContextScope scope = target.Activate();
        Check(CudaDriver.cuMemcpyPeerAsync(destination, target.Context, source, origin.Context, (nuint)bytes, (stream ?? target.LibraryStream).Handle));
    }

    /// <summary>Queues a fill of <paramref name="bytes"/> bytes with <paramref name="value"/> on <paramref name="stream"/> (the library stream when null).</summary>
    public static void Fill(int device, nint destination, byte value, long bytes, CudaStream? stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        Check(CudaDriver.cuMemsetD8Async(destination, value, (nuint)bytes, (stream ?? owner.LibraryStream).Handle));
    }

    /// <summary>Queues a fill of <paramref name="count"/> 32-bit words with <paramref name="value"/> on <paramref name="stream"/> (the library stream when null).</summary>
    public static void Fill32(int device, nint destination, int value, long count, CudaStream? stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        Check(CudaDriver.cuMemsetD32Async(destination, (uint)value, (nuint)count, (stream ?? owner.LibraryStream).Handle));
    }

    /// <inheritdoc />
    protected override bool ReleaseMayWait => !_pooled;

    /// <inheritdoc />
    protected override Func<bool> CreateRelease()
    {
        (int device, nint pointer, bool pooled, nint freeStream, SafeHandle? freeStreamOwner) = (_device, handle, _pooled, _freeStream, _freeStreamOwner);
        return () =>
        {
            using CudaContextScope scope = CudaDevice.Get(device).Activate();
            if (!pooled)
            {
                return CudaDriver.cuMemFree_v2(pointer) == CuResult.Success;
            }
            bool freed = CudaDriver.cuMemFreeAsync(pointer, freeStream) == CuResult.Success;
            freeStreamOwner?.DangerousRelease();
            return freed;
        };
    }
}
