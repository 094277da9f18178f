using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace MoeLayer;

/// <summary>The layer in low-latency mode (decode) on one rank: FP8 dispatch with a receive hook, experts, combine.</summary>
internal static class LowLatencyLayer
{
    /// <summary>Runs this rank's <c>[N, H]</c> decode tokens through the layer and returns the <c>[N, H]</c> output and the backend that moved the tokens.</summary>
    public static (float[] Output, EpBackendKind Backend) Forward(ProcessGroup group, LayerShape shape, Router router, Experts experts, BFloat16[] tokens)
    {
        int maxTokens = shape.DecodeTokens, hidden = shape.Hidden, numTopk = shape.Topk, numExperts = shape.Experts;
        (long[] routedIdx, float[] routedWeights) = router.Route(Experts.ToFloat(tokens), maxTokens);

        long rdmaBytes = EpBuffer.GetLowLatencyRdmaSizeHint(maxTokens, hidden, group.Size, numExperts);
        using var buffer = new EpBuffer(group, numRdmaBytes: rdmaBytes, lowLatencyMode: true);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(tokens, [maxTokens, hidden], buffer.Device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(routedIdx, [maxTokens, numTopk], buffer.Device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(routedWeights, [maxTokens, numTopk], buffer.Device);

        // Send phase only; the hook runs the receive phase later, so other work (the next micro-batch's attention)
        // overlaps with the transfer and no SM is held in between.
        using LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topkIdx, maxTokens, numExperts, useFp8: true, returnRecvHook: true);
        using LowLatencyHandle handle = d.Handle;
        d.Hook!();

        // d.PackedRecvX: [E_local, R*N, H] FP8 with d.PackedRecvXScales; d.PackedRecvCount[e] rows are valid per expert.
        using DeviceTensor y = experts.RunPacked(d.PackedRecvX, d.PackedRecvXScales!, d.PackedRecvCount, buffer.Rank);
        using LowLatencyCombineResult c = buffer.LowLatencyCombine(y, topkIdx, topkWeights, handle);  // Σ_k w·y, [N, H] BF16
        return (Experts.ToFloat(c.CombinedX.ToArray<BFloat16>()), buffer.Backend);
    }
}
