using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Constants shared with <c>impls/low_latency_buffer.cuh</c>.</summary>
internal static class LowLatencyKernels
{
    /// <summary>Threads per block of every low-latency kernel (<c>kLowLatencyThreads</c>).</summary>
    public const int ThreadsPerBlock = 512;

    /// <summary>Warps per block (<c>kLowLatencyWarps</c>).</summary>
    public const int WarpsPerBlock = ThreadsPerBlock / 32;

    /// <summary>Blocks per SM the kernels are built for (<c>kLowLatencyBlocksPerSm</c>): grids of per-expert kernels stay in one wave up to twice the SM count.</summary>
    public const int BlocksPerSm = 2;

    /// <summary>Bytes of <c>LowLatencyControl</c>: two epochs, two block counters, one mask int per rank.</summary>
    public const int ControlBytes = (2 + 2 + KernelLimits.MaxRanks) * sizeof(int);

    /// <summary>Byte offset of the mask inside <c>LowLatencyControl</c>.</summary>
    public const int MaskOffset = 4 * sizeof(int);

    /// <summary>Dynamic shared memory a Hopper block may opt into (227 KiB).</summary>
    public const int MaxSharedMemoryBytes = 227 * 1024;

    /// <summary>Most top-k slots the combine's receive phase keeps per token (<c>kMaxTopk</c>).</summary>
    public const int MaxTopk = 32;

    /// <summary>
    /// The grid for <paramref name="wanted"/> blocks of <paramref name="kernel"/> (at least one; the kernels loop when
    /// it is smaller): at most <see cref="BlocksPerSm"/> blocks, or fewer where shared memory allows fewer, on each of
    /// the SMs of this rank's <paramref name="share"/>, so the waiting kernels of ranks sharing a GPU are all resident.
    /// </summary>
    public static int Grid(CudaKernel kernel, long wanted, GpuShare share, int sharedBytes = 0)
    {
        int perSm = share.BlocksPerSm(Math.Min(BlocksPerSm, kernel.MaxActiveBlocksPerMultiprocessor(ThreadsPerBlock, sharedBytes)));
        return (int)Math.Clamp(wanted, 1, perSm * (long)share.Sms);
    }
}
