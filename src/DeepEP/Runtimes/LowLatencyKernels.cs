using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>The low-latency buffer's control block and the grid of the low-latency kernels (<c>common/low_latency_buffer.cuh</c>).</summary>
internal static class LowLatencyKernels
{
    /// <summary>Bytes of <c>LowLatencyControl</c>: two epochs, two block counters, one mask int per rank.</summary>
    public const int ControlBytes = (2 + 2 + KernelLimits.MaxRanks) * sizeof(int);

    /// <summary>Byte offset of the mask inside <c>LowLatencyControl</c>.</summary>
    public const int MaskOffset = 4 * sizeof(int);

    /// <summary>Dynamic shared memory a Hopper block may opt into (227 KiB).</summary>
    public const int MaxSharedMemoryBytes = 227 * 1024;

    /// <summary>
    /// The grid for <paramref name="wanted"/> blocks of <paramref name="kernel"/> (at least one; the kernels loop when
    /// it is smaller): at most <see cref="KernelLimits.LowLatencyBlocksPerSm"/> blocks, or fewer where shared memory allows fewer, on each of
    /// the SMs of this rank's <paramref name="share"/>, so the waiting kernels of ranks sharing a GPU are all resident.
    /// </summary>
    public static int Grid(CudaKernel kernel, long wanted, GpuShare share, int sharedBytes = 0)
    {
        int perSm = share.BlocksPerSm(Math.Min(KernelLimits.LowLatencyBlocksPerSm, kernel.MaxActiveBlocksPerMultiprocessor(KernelLimits.LowLatencyThreads, sharedBytes)));
        return (int)Math.Clamp(wanted, 1, perSm * (long)share.Sms);
    }

    /// <summary>The largest grid <see cref="Grid"/> allows: for kernels that split their work over however many blocks there are.</summary>
    public static int FullGrid(CudaKernel kernel, GpuShare share, int sharedBytes = 0) => Grid(kernel, long.MaxValue, share, sharedBytes);
}
