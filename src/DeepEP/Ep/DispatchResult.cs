using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of a normal-mode <c>EpBuffer.Dispatch</c> (spec §2.2); cached dispatch fills only <see cref="RecvX"/>, <see cref="RecvXScales"/> and <see cref="Event"/>.</summary>
/// <param name="RecvX"><c>[M, H]</c> received rows, BF16 or FP8 like the input, ordered by (source rank, source token).</param>
/// <param name="RecvXScales"><c>[M, S]</c> row-major scales (FP8 input only), copied bit for bit.</param>
/// <param name="RecvTopkIdx"><c>[M, K]</c> top-k indices rebased to local experts, -1 elsewhere (null without top-k or in cached mode).</param>
/// <param name="RecvTopkWeights"><c>[M, K]</c> Float32 weights, +0 where the rebased index is -1.</param>
/// <param name="NumRecvTokensPerExpertList">Per local expert, tokens received rounded up to <c>expertAlignment</c>; empty with <c>numWorstTokens</c> or in cached mode.</param>
/// <param name="Handle">The handle for combine and cached dispatch (null in cached mode).</param>
/// <param name="Event">Completion event when <c>asyncFinish</c> was requested.</param>
/// <remarks>With <c>doExpand: true</c> (or a cached dispatch with such a handle) <see cref="Expanded"/> holds the same rows in the expanded layout as well.</remarks>
public sealed record DispatchResult(
    DeviceTensor RecvX,
    DeviceTensor? RecvXScales,
    DeviceTensor? RecvTopkIdx,
    DeviceTensor? RecvTopkWeights,
    IReadOnlyList<int> NumRecvTokensPerExpertList,
    DispatchHandle? Handle,
    EventOverlap Event) : IDisposable
{
    /// <summary>The expanded layout of the received rows (<c>doExpand: true</c>); null otherwise.</summary>
    public ExpandedRows? Expanded { get; init; }

    /// <summary>Frees the received tensors; the <see cref="Handle"/> lives on (combine needs it) and is disposed separately.</summary>
    public void Dispose()
    {
        RecvX.Dispose();
        RecvXScales?.Dispose();
        RecvTopkIdx?.Dispose();
        RecvTopkWeights?.Dispose();
        Expanded?.Dispose();
    }
}
