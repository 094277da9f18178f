using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::DispatchPeer</c>: one destination's output pointers, published in its header's mailbox.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DispatchPeer
{
    public nint RecvX;
    public nint RecvXScales;
    public nint RecvSrcIdx;
    public nint RecvTopkIdx;
    public nint RecvTopkWeights;
    public long Capacity;
    public long RowShape;
}

/// <summary>Twin of <c>deep_ep::DispatchParams</c> (which derives from <c>DispatchSource</c>, so <see cref="Source"/> comes first).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IntranodeDispatchParams
{
    public DispatchSource Source;
    public PeerArray<nint> Headers;
    public PeerArray<long> PeerDeltas;
    public nint RankPrefixMatrix;
    public nint Diagnostics;
    public Mailbox Mailbox;
    public ulong TimeoutNs;
    public int NumRanks;
    public int Rank;
    public int NumChannels;
    public int Epoch;
}

/// <summary>Twin of <c>deep_ep::MarkPaddingParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MarkPaddingParams
{
    public nint RecvTopkIdx;
    public nint RecvCount;
    public int NumRows;
    public int NumTopk;
}

/// <summary>Launches the normal-mode dispatch kernels (<c>impls/intranode_dispatch.cuh</c>).</summary>
internal static class IntranodeDispatchRuntime
{
    private const string Header = "deep_ep/impls/intranode_dispatch.cuh";

    private static readonly KernelTemplate<int> Expressions =
        new(rowWords => string.Create(CultureInfo.InvariantCulture, $"deep_ep::intranode_dispatch<{rowWords}>"));

    /// <summary>Copies with <paramref name="numSms"/> blocks; the kernel is specialised on the row size in 16-byte words.</summary>
    public static void Launch(int device, GpuShare share, CudaStream stream, int numSms, int rowWords, in IntranodeDispatchParams p)
    {
        KernelLoader.Get(device, Header, Expressions.Expression(rowWords)).Launch(new KernelLaunchConfig(numSms, KernelLimits.DispatchWarps * 32, Stream: stream, Cooperative: share.Cooperative), p);
    }

    public static void LaunchMarkPadding(int device, CudaStream stream, in MarkPaddingParams p)
    {
        KernelLoader.Get(device, Header, "deep_ep::mark_padding_rows").Launch(new KernelLaunchConfig(32, 256, Stream: stream), p);
    }
}
