using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>
/// C# twin of <c>deep_ep::KernelDiagnostics</c> (<c>common/timeout.cuh</c>): the host-mapped record a kernel writes
/// when a spin-wait passes its deadline. Read it after the kernel has finished.
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

    /// <summary>A kernel-defined code naming the wait.</summary>
    public int What;

    /// <summary>Unused; keeps the 64-bit fields aligned.</summary>
    public int Reserved;

    /// <summary>The value waited for.</summary>
    public long Expected;

    /// <summary>The value last read.</summary>
    public long Seen;

    /// <summary>How long the kernel waited, in nanoseconds.</summary>
    public ulong ElapsedNanoseconds;

    /// <summary>A one-line description, e.g. for <c>CommunicationTimeoutException</c>.</summary>
    public readonly string Describe(string waitName) =>
        $"rank {Rank} timed out after {ElapsedNanoseconds / 1e6:F1} ms waiting for {waitName} (peer rank {PeerRank}, channel {Channel}): expected {Expected}, saw {Seen}";
}
