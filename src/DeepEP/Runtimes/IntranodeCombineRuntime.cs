using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::RewriteSendHeadParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RewriteSendHeadParams
{
    public nint SendHead;
    public int NumTokens;
    public int NumRanks;
    public int NumChannels;
    public int Reserved;
}

/// <summary>Twin of <c>deep_ep::CombinePeer</c>: one rank's combine inputs, published in its header's mailbox.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CombinePeer
{
    public nint X;
    public nint TopkWeights;
    public long NumRows;
    public long RowShape;
}

/// <summary>Twin of <c>deep_ep::CombineParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IntranodeCombineParams
{
    public CombineTarget Target;
    public PeerArray<nint> Headers;
    public PeerArray<long> PeerDeltas;
    public nint RankPrefixMatrix;
    public nint Diagnostics;
    public Mailbox Mailbox;
    public ulong TimeoutNs;
    public int Rank;
    public int Epoch;
}

/// <summary>Launches the normal-mode combine kernels (<c>impls/intranode_combine.cuh</c>).</summary>
internal static class IntranodeCombineRuntime
{
    private const string Header = "deep_ep/impls/intranode_combine.cuh";

    private static readonly KernelTemplate<int> Expressions =
        new(rowWords => string.Create(CultureInfo.InvariantCulture, $"deep_ep::intranode_combine<{rowWords}>"));

    public static void LaunchRewriteSendHead(int device, CudaStream stream, in RewriteSendHeadParams p)
    {
        int warps = Math.Min(p.NumRanks, 8);
        KernelLoader.Get(device, Header, "deep_ep::rewrite_send_head").Launch(new KernelLaunchConfig(p.NumChannels, warps * 32, Stream: stream), p);
    }

    public static void Launch(int device, GpuShare share, CudaStream stream, int numSms, int rowWords, in IntranodeCombineParams p)
    {
        KernelLoader.Get(device, Header, Expressions.Expression(rowWords)).Launch(new KernelLaunchConfig(numSms, KernelLimits.CombineWarps * 32, Stream: stream, Cooperative: share.Cooperative), p);
    }
}
