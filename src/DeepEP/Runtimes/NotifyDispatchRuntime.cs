using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::NotifyDispatchParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NotifyDispatchParams
{
    public PeerArray<nint> Headers;
    public nint NumTokensPerRank;
    public nint NumTokensPerExpert;
    public nint ChannelCounts;
    public nint ChannelPrefixMatrix;
    public nint RankPrefixMatrix;
    public nint RecvChannelPrefixMatrix;
    public nint RecvCount;
    public nint HostRecvCount;
    public nint HostExpertCounts;
    public nint Diagnostics;
    public ulong TimeoutNs;
    public int Rank;
    public int NumRanks;
    public int NumExperts;
    public int NumChannels;
    public int ExpertAlignment;
    public int Epoch;
}

/// <summary>Launches the count exchange before a non-cached dispatch (<c>impls/notify_dispatch.cuh</c>).</summary>
internal static class NotifyDispatchRuntime
{
    /// <summary>Barrier epochs one notify consumes.</summary>
    public const int EpochsUsed = 2;

    public static void Launch(int device, CudaStream stream, in NotifyDispatchParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/notify_dispatch.cuh", "deep_ep::notify_dispatch");
        kernel.Launch(new KernelLaunchConfig(1, 1024, Stream: stream), p);
    }
}
