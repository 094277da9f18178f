using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>Twin of the codes kernels write into <c>KernelDiagnostics::what</c> (<c>common/diagnostics.cuh</c>).</summary>
internal enum WaitCode
{
    /// <summary>No code (the block is empty).</summary>
    None = 0,

    /// <summary><c>kWaitBarrier</c>: a barrier or a copy kernel's entry barrier.</summary>
    Barrier = 1,

    /// <summary><c>kWaitRecvCapacity</c>: a row past a destination's outputs or receive arena (not a wait).</summary>
    RecvCapacity = 2,

    /// <summary><c>kMissingTopkWeights</c>: a peer passed no top-k weights to combine (not a wait).</summary>
    MissingTopkWeights = 3,

    /// <summary><c>kWaitLowLatencyDispatch</c>: the low-latency dispatch receive.</summary>
    LowLatencyDispatch = 4,

    /// <summary><c>kWaitLowLatencyCombine</c>: the low-latency combine receive.</summary>
    LowLatencyCombine = 5,

    /// <summary><c>kLowLatencyRecvCapacity</c>: a local expert selected more than R*N times (not a wait).</summary>
    LowLatencyRecvCapacity = 6,

    /// <summary><c>kMismatchedShape</c>: a peer's normal-mode rows have another <see cref="RowShape"/> (not a wait).</summary>
    MismatchedShape = 7,

    /// <summary><c>kLowLatencyMismatchedShape</c>: a source's low-latency area lacks this call's shape stamp (not a wait).</summary>
    LowLatencyMismatchedShape = 8,
}

/// <summary>
/// C# twin of <c>deep_ep::KernelDiagnostics</c> (<c>common/diagnostics.cuh</c>, size checked through
/// <c>DEEPEP_KERNEL_DIAGNOSTICS_SIZE</c>): the host-mapped record a kernel writes when a spin-wait passes its
/// deadline. Read it after the kernel has finished.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KernelDiagnostics
{
    /// <summary>Size in bytes, equal to the header's <c>sizeof(KernelDiagnostics)</c>.</summary>
    public const int Size = 48;

    /// <summary>0 = no timeout; 1 = a complete timeout record; 2 = a record was being written.</summary>
    public int TimedOut;

    /// <summary>The rank whose kernel gave up.</summary>
    public int Rank;

    /// <summary>The rank it waited for, or -1.</summary>
    public int PeerRank;

    /// <summary>Channel, expert or slot index, or -1.</summary>
    public int Channel;

    /// <summary>The code naming the wait.</summary>
    public WaitCode What;

    /// <summary>Unused; keeps the 64-bit fields aligned.</summary>
    public int Reserved;

    /// <summary>The value waited for.</summary>
    public long Expected;

    /// <summary>The value last read.</summary>
    public long Seen;

    /// <summary>How long the kernel waited, in nanoseconds.</summary>
    public ulong ElapsedNs;

    /// <summary>Whether a complete record has been written.</summary>
    public readonly bool IsComplete => TimedOut == 1;

    /// <summary>How long the kernel waited.</summary>
    public readonly TimeSpan Waited => TimeSpan.FromMilliseconds(ElapsedNs / 1e6);

    /// <summary>The name of the wait, for messages.</summary>
    public readonly string WaitName => What switch
    {
        WaitCode.Barrier => "barrier",
        WaitCode.RecvCapacity => "receive capacity",
        WaitCode.LowLatencyDispatch => "low-latency dispatch receive",
        WaitCode.LowLatencyCombine => "low-latency combine receive",
        _ => $"wait {(int)What}",
    };

    /// <summary>Reads the record at the start of <paramref name="block"/> (the pinned host block, or a copy of it).</summary>
    public static KernelDiagnostics Read(ReadOnlySpan<byte> block) => MemoryMarshal.Read<KernelDiagnostics>(block[..Size]);

    /// <summary>A one-line description, e.g. for <c>CommunicationTimeoutException</c>.</summary>
    public readonly string Describe(string waitName) =>
        $"rank {Rank} timed out after {ElapsedNs / 1e6:F1} ms waiting for {waitName} (peer rank {PeerRank}, channel {Channel}): expected {Expected}, saw {Seen}";
}
