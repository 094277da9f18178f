using System.Collections.Concurrent;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// Synchronous copies between device memory and pageable host memory (managed arrays, native blocks), staged through
/// pinned chunks that live as long as the process. The driver's own pageable copy waits for the stream's earlier work
/// while holding a lock that every kernel launch in the process takes: with ranks that are threads sharing a GPU, a
/// rank copying behind its kernel that waits for a peer kept that peer from launching until the kernel's deadline
/// (seen on an H200: one rank in <c>cuMemcpyAsync</c>, the other in <c>cuLaunchKernel</c>, for 20 s). Here the wait is
/// a plain <c>cuStreamSynchronize</c> and each driver copy is from or to pinned memory, which never waits.
/// </summary>
internal static class StagedHostCopy
{
    /// <summary>Bytes per pinned chunk; one chunk per thread copying at once.</summary>
    public const long ChunkBytes = 8L << 20;

    private static readonly ConcurrentBag<PinnedHostMemory> s_free = [];
    // Every chunk stays reachable here, so none is ever freed (cuMemFreeHost may wait for the whole GPU).
    private static readonly ConcurrentBag<PinnedHostMemory> s_all = [];

    /// <summary>Copies <paramref name="bytes"/> from device address <paramref name="source"/> to pageable host memory, after the work queued on the library stream.</summary>
    public static unsafe void ToHost(int device, nint destination, nint source, long bytes) =>
        Run(device, bytes, (chunk, offset, count, stream) =>
        {
            Check(CudaDriver.cuMemcpyAsync(chunk.HostPointer, source + (nint)offset, (nuint)count, stream));
            Check(CudaDriver.cuStreamSynchronize(stream));
            Buffer.MemoryCopy((void*)chunk.HostPointer, (void*)(destination + (nint)offset), count, count);
        });

    /// <summary>Copies <paramref name="bytes"/> from pageable host memory to device address <paramref name="destination"/>, after the work queued on the library stream; returns when done.</summary>
    public static unsafe void FromHost(int device, nint destination, nint source, long bytes) =>
        Run(device, bytes, (chunk, offset, count, stream) =>
        {
            Buffer.MemoryCopy((void*)(source + (nint)offset), (void*)chunk.HostPointer, count, count);
            Check(CudaDriver.cuMemcpyAsync(destination + (nint)offset, chunk.HostPointer, (nuint)count, stream));
            Check(CudaDriver.cuStreamSynchronize(stream));
        });

    private static void Run(int device, long bytes, Action<PinnedHostMemory, long, long, nint> step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        nint stream = owner.LibraryStream.Handle;
        PinnedHostMemory chunk = Rent(device);
        try
        {
            for (long offset = 0; offset < bytes; offset += ChunkBytes)
            {
                step(chunk, offset, Math.Min(ChunkBytes, bytes - offset), stream);
            }
        }
        finally
        {
            s_free.Add(chunk);
        }
    }

    private static PinnedHostMemory Rent(int device)
    {
        if (s_free.TryTake(out PinnedHostMemory? chunk))
        {
            return chunk;
        }
        chunk = PinnedHostMemory.Allocate(device, ChunkBytes);
        s_all.Add(chunk);
        return chunk;
    }
}
