using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace MoeLayer;

/// <summary>The layer in normal mode (training, prefill) on one rank: route, dispatch, experts, combine.</summary>
internal static class NormalModeLayer
{
    /// <summary>Runs this rank's <c>[T, H]</c> tokens through the layer and returns the <c>[T, H]</c> output and the backend that moved the tokens.</summary>
    public static (float[] Output, EpBackendKind Backend) Forward(ProcessGroup group, LayerShape shape, Router router, Experts experts, BFloat16[] tokens)
    {
        int numTokens = shape.Tokens, hidden = shape.Hidden, numTopk = shape.Topk, numExperts = shape.Experts;
        (long[] routedIdx, float[] routedWeights) = router.Route(Experts.ToFloat(tokens), numTokens);

        EpConfig config = EpBuffer.GetDispatchConfig(group.Size);
        // With the token count the hint also covers one process per GPU, where received rows live in this buffer.
        long nvlBytes = Math.Max(config.GetNvlBufferSizeHint(hidden * 2, group.Size, numTokens, numTopk),
                                 EpBuffer.GetCombineConfig(group.Size).GetNvlBufferSizeHint(hidden * 2, group.Size, numTokens, numTopk));
        // The rank's GPU is its local rank modulo the visible GPUs; the host backend (no GPU) uses host tensors.
        using var buffer = new EpBuffer(group, nvlBytes);

        // x: [T, H] BF16, topkIdx: [T, K] Int64 (-1 = no expert), topkWeights: [T, K] Float32, all on the buffer's device.
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(tokens, [numTokens, hidden], buffer.Device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(routedIdx, [numTokens, numTopk], buffer.Device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(routedWeights, [numTokens, numTopk], buffer.Device);

        using DispatchLayout layout = buffer.GetDispatchLayout(topkIdx, numExperts);
        using DispatchResult received = buffer.Dispatch(x, layout, topkIdx, topkWeights);
        using DispatchHandle handle = received.Handle!;

        // received.RecvX: [M, H] rows ordered by (source rank, source token); RecvTopkIdx is rebased to this rank's
        // experts (-1 = another rank's); NumRecvTokensPerExpertList sizes a grouped GEMM. Combine sums unweighted,
        // so the experts apply the weights.
        // Write the expert outputs into the handle's combine input buffer: with one process per GPU it is memory the peers
        // read directly, so combine copies nothing (any other x is copied into the buffer first).
        using DeviceTensor expertOut = buffer.GetCombineInputBuffer(handle, hidden);
        experts.Run(received.RecvX, received.RecvTopkIdx!, received.RecvTopkWeights!, buffer.Rank, expertOut);

        using CombineResult combined = buffer.Combine(expertOut, handle);   // [T, H] BF16 back on the source rank
        return (Experts.ToFloat(combined.CombinedX.ToArray<BFloat16>()), buffer.Backend);
    }
}
