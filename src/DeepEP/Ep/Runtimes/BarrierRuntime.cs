using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Ep.Runtimes;

/// <summary>Twin of <c>deep_ep::BarrierParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BarrierParams
{
    public PeerArray<nint> Headers;
    public nint Diagnostics;
    public ulong TimeoutNs;
    public Mailbox Mailbox;
    public int Rank;
    public int NumRanks;
    public int Epoch;
    public int Publish;
}

/// <summary>The per-call pointers one rank publishes in its header for peers to read (<c>CommHeader::mailbox</c>).</summary>
[System.Runtime.CompilerServices.InlineArray(KernelLimits.MailboxWords)]
internal struct Mailbox
{
    private long _first;

    /// <summary>Packs an unmanaged value (at most 64 bytes) into the words.</summary>
    public static Mailbox Of<T>(T value)
        where T : unmanaged
    {
        var mailbox = new Mailbox();
        System.Runtime.InteropServices.MemoryMarshal.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes((Span<long>)mailbox), in value);
        return mailbox;
    }
}

/// <summary>Launches the cross-rank stream barrier (<c>impls/rank_barrier.cuh</c>).</summary>
internal static class BarrierRuntime
{
    public static void Launch(int device, CudaStream stream, in BarrierParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/rank_barrier.cuh", "deep_ep::barrier");
        kernel.Launch(new KernelLaunchConfig(1, 32, Stream: stream), p);
    }
}
