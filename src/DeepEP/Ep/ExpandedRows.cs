using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// The expanded layout of a dispatch (<c>doExpand: true</c>, DeepEP V2's <c>do_expand</c>): one row per (received
/// row, top-k slot naming a local expert), grouped by local expert in received-row order, each expert's segment
/// starting at <see cref="ExpertExpansion.PsumNumRecvTokensPerExpert"/> of the previous expert and padded up to a
/// multiple of the dispatch's <c>expertAlignment</c> — the input a grouped GEMM takes. Where the rows came from is in
/// the handle's <see cref="DispatchHandle.Expansion"/>.
/// </summary>
/// <param name="X"><c>[N, H]</c> the dtype of the received rows; padding rows are zero with <c>doZeroPadding</c>, else not written.</param>
/// <param name="XScales"><c>[N, S]</c> scales of FP8/INT8 rows (null for BF16), padded like <paramref name="X"/>.</param>
/// <param name="TopkWeights"><c>[N]</c> Float32: each row's top-k weight, 0 in padding rows (V2's 1-D <c>recv_topk_weights</c>); null in a cached dispatch.</param>
public sealed record ExpandedRows(DeviceTensor X, DeviceTensor? XScales, DeviceTensor? TopkWeights) : IDisposable
{
    /// <summary>Frees the three tensors.</summary>
    public void Dispose()
    {
        X.Dispose();
        XScales?.Dispose();
        TopkWeights?.Dispose();
    }
}
