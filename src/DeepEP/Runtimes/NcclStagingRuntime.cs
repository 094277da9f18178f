using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::NcclPackParams</c> (which derives from <c>DispatchSource</c>, so <see cref="Source"/> comes first).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclPackParams
{
    public DispatchSource Source;
    public nint StagedX;
    public nint StagedXScales;
    public nint StagedSrcIdx;
    public nint StagedTopkIdx;
    public nint StagedTopkWeights;
    public int NumRanks;
    public int NumChannels;
    public int RowWords;
    public int Reserved;
}

/// <summary>Twin of <c>deep_ep::NcclReduceParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclReduceParams
{
    public CombineTarget Target;
    public nint ReceivedX;
    public nint ReceivedTopkWeights;
    public int RowWords;
    public int Reserved;
}

/// <summary>Launches the NCCL backend's staging kernels (<c>impls/nccl_staging.cuh</c>): the dispatch pack and the combine reduction.</summary>
internal static class NcclStagingRuntime
{
    private const string Header = "deep_ep/impls/nccl_staging.cuh";
    private const int MaxBlocks = 1024;

    public static void LaunchPack(int device, CudaStream stream, in NcclPackParams p) =>
        KernelLoader.Get(device, Header, "deep_ep::nccl_pack").Launch(Config(p.Source.NumTokens, p.NumRanks, stream), p);

    public static void LaunchReduce(int device, CudaStream stream, in NcclReduceParams p) =>
        KernelLoader.Get(device, Header, "deep_ep::nccl_reduce").Launch(Config(p.Target.NumTokens, p.Target.NumRanks, stream), p);

    // One warp per token; each block keeps the R destination block offsets in shared memory.
    private static KernelLaunchConfig Config(int numTokens, int numRanks, CudaStream stream) =>
        new(Math.Clamp((numTokens + KernelLimits.StagingWarps - 1) / KernelLimits.StagingWarps, 1, MaxBlocks), KernelLimits.StagingWarps * 32, numRanks * sizeof(int), stream);
}
