using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>The low-latency dispatch handle (spec §5.3), passed to <see cref="EpBuffer.LowLatencyCombine"/>.</summary>
/// <param name="PackedRecvSrcInfo"><c>[E_l, R*N]</c> Int32 source token index of each packed row.</param>
/// <param name="PackedRecvLayoutRange"><c>[E_l, R]</c> Int64 <c>(begin &lt;&lt; 32) | count</c> of the rows of expert e from rank s.</param>
/// <param name="NumMaxDispatchTokensPerRank">N, the per-rank token capacity.</param>
/// <param name="Hidden">H.</param>
/// <param name="NumExperts">E; with shared-expert ranks (<see cref="EpBuffer.SharedExpertRankNum"/> N &gt; 0) the padded E' = R·E/(R − N).</param>
public sealed record LowLatencyHandle(
    DeviceTensor PackedRecvSrcInfo,
    DeviceTensor PackedRecvLayoutRange,
    int NumMaxDispatchTokensPerRank,
    int Hidden,
    int NumExperts) : IDisposable
{
    /// <summary>What the backend that made this handle keeps for the combine (the NCCL backend's transfer plan); freed with the handle.</summary>
    internal IDisposable? BackendState { get; init; }

    /// <summary>Set when the buffer has shared-expert ranks: <see cref="NumExperts"/> is then the padded count E' = L·R.</summary>
    internal SharedExpertRouting? SharedExperts { get; init; }

    /// <summary>Frees the source info, the layout ranges and the backend's state.</summary>
    public void Dispose()
    {
        PackedRecvSrcInfo.Dispose();
        PackedRecvLayoutRange.Dispose();
        BackendState?.Dispose();
        SharedExperts?.Dispose();
    }
}
