using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::NcclLowLatencyPackParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclLowLatencyPackParams
{
    public nint X;
    public nint Tokens;
    public nint Staged;
    public int NumMessages;
    public int Hidden;
    public int MessageBytes;
    public int UseFp8;
    public int RoundScale;
    public int Reserved;
}

/// <summary>Twin of <c>deep_ep::NcclLowLatencyUnpackParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclLowLatencyUnpackParams
{
    public nint Received;
    public nint RecvRows;
    public nint Counts;
    public nint Layout;
    public nint PackedRecvX;
    public nint PackedRecvXScales;
    public nint PackedRecvCount;
    public nint PackedRecvSrcInfo;
    public nint PackedRecvLayoutRange;
    public nint CumulativeLocalExpertRecvStats;
    public int NumMessages;
    public int Hidden;
    public int MessageBytes;
    public int RowsPerExpert;
    public int NumLocalExperts;
    public int NumRanks;
    public int UseFp8;
    public int UseUe8m0;
}

/// <summary>Twin of <c>deep_ep::NcclLowLatencyGatherParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclLowLatencyGatherParams
{
    public nint X;
    public nint Rows;
    public nint Staged;
    public long ExpertStride;
    public long RowStride;
    public int NumRows;
    public int Hidden;
    public int RowsPerExpert;
    public int Reserved;
}

/// <summary>Twin of <c>deep_ep::NcclLowLatencyReduceParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclLowLatencyReduceParams
{
    public nint Received;
    public nint Slots;
    public nint TopkIdx;
    public nint TopkWeights;
    public nint Masked;
    public nint CombinedX;
    public int NumTokens;
    public int NumTopk;
    public int Hidden;
    public int NumExperts;
    public int NumLocalExperts;
    public int Reserved;
}

/// <summary>
/// Launches the NCCL backend's low-latency kernels (<c>impls/nccl_low_latency.cuh</c>): the dispatch pack and unpack,
/// the combine gather and reduction, each combine kernel for BF16 rows or LogFMT-10 slots (<c>logfmt</c>). One warp
/// per message, row or token; the LogFMT-10 reduction one block per token.
/// </summary>
internal static class NcclLowLatencyRuntime
{
    private const string Header = "deep_ep/impls/nccl_low_latency.cuh";
    private const int MaxBlocks = 1024;

    public static void LaunchPack(int device, CudaStream stream, in NcclLowLatencyPackParams p) =>
        Launch(device, "deep_ep::nccl_low_latency_pack", p.NumMessages, stream, p);

    public static void LaunchUnpack(int device, CudaStream stream, in NcclLowLatencyUnpackParams p) =>
        Launch(device, "deep_ep::nccl_low_latency_unpack", p.NumMessages, stream, p);

    public static void LaunchGather(int device, CudaStream stream, bool logfmt, in NcclLowLatencyGatherParams p) =>
        Launch(device, logfmt ? "deep_ep::nccl_low_latency_gather<true>" : "deep_ep::nccl_low_latency_gather<false>", p.NumRows, stream, p);

    public static void LaunchReduce(int device, CudaStream stream, bool logfmt, in NcclLowLatencyReduceParams p) =>
        Launch(device, logfmt ? "deep_ep::nccl_low_latency_reduce<true>" : "deep_ep::nccl_low_latency_reduce<false>",
            logfmt ? p.NumTokens * KernelLimits.NcclLowLatencyWarps : p.NumTokens, stream, p);

    // Enough blocks for `items` warps (one per message, row or token; the LogFMT-10 reduction asks a block's worth per token).
    private static void Launch<T>(int device, string expression, int items, CudaStream stream, in T p)
        where T : unmanaged =>
        KernelLoader.Get(device, Header, expression).Launch(
            new KernelLaunchConfig(Math.Clamp((items + KernelLimits.NcclLowLatencyWarps - 1) / KernelLimits.NcclLowLatencyWarps, 1, MaxBlocks), KernelLimits.NcclLowLatencyWarps * 32, Stream: stream), p);
}
