using System.Runtime.CompilerServices;

namespace DeepEP.Runtimes;

/// <summary>A fixed array of one entry per rank, laid out like the kernels' <c>T peers[kMaxRanks]</c>.</summary>
[InlineArray(KernelLimits.MaxRanks)]
internal struct PeerArray<T>
    where T : unmanaged
{
    private T _first;
}
