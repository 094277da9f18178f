using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>
/// Twin of <c>deep_ep::LowLatencyCall</c> (<c>common/low_latency_buffer.cuh</c>): what every low-latency kernel is told
/// about the call, the first field of <see cref="LowLatencyDispatchParams"/> and <see cref="LowLatencyCombineParams"/>
/// (their C++ structs' base).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LowLatencyCall
{
    /// <summary>Every rank's low-latency allocation, as mapped on this device.</summary>
    public PeerArray<nint> Buffers;
    public nint Control;
    public nint Diagnostics;

    /// <summary>Byte offset of this set's signal ints in each allocation.</summary>
    public long SignalOffset;

    /// <summary>Byte offset of this set's receive area in each allocation.</summary>
    public long RecvOffset;
    public ulong TimeoutNs;
    public int NumTokens;

    /// <summary>N, the most tokens any rank passes.</summary>
    public int NumMaxTokens;
    public int NumTopk;
    public int NumExperts;
    public int Rank;
    public int NumRanks;
    public int Set;

    /// <summary>1 when time-outs mask the source instead of failing.</summary>
    public int Shrink;
}
