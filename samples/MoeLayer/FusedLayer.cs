using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace MoeLayer;

/// <summary>The layer in one call on one rank (decode): <c>FusedDeepMoe</c> with this rank's experts as FP8 weights.</summary>
internal static class FusedLayer
{
    /// <summary>Runs this rank's <c>[N, H]</c> decode tokens through the layer and returns the <c>[N, H]</c> output and the backend that ran it.</summary>
    public static (float[] Output, EpBackendKind Backend) Forward(ProcessGroup group, LayerShape shape, Router router, Experts experts, BFloat16[] tokens)
    {
        int maxTokens = shape.DecodeTokens, numExperts = shape.Experts;
        (long[] routedIdx, float[] routedWeights) = router.Route(Experts.ToFloat(tokens), maxTokens);
        using var buffer = new EpBuffer(group, numRdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(maxTokens, shape.Hidden, group.Size, numExperts), lowLatencyMode: true);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(tokens, [maxTokens, shape.Hidden], buffer.Device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(routedIdx, [maxTokens, shape.Topk], buffer.Device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(routedWeights, [maxTokens, shape.Topk], buffer.Device);
        (DeviceTensor w1, DeviceTensor w2) = experts.LocalWeights(buffer.Rank, buffer.Device);
        using (w1)
        using (w2)
        {
            // This rank's experts: W1 = gate and up [E_local, 2I, H], W2 = down [E_local, H, I], BF16 on the buffer's GPU,
            // quantised there to FP8 E4M3 with 128 × 128 block scales (DeepSeek-V3's format; Int8 and None work the same way).
            using MoeExpertWeights weights = MoeExpertWeights.Quantize(w1, w2, MoeQuantMode.Fp8);

            // Low-latency dispatch, y = W2 · (silu(W1_gate · x) ⊙ (W1_up · x)) per local expert, combine weighted by topkWeights.
            using FusedMoeResult layer = buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, maxTokens, numExperts);
            // layer.Output: [T, H] BF16; layer.ExpertRecvCount: [E_local] Int32 rows each local expert received.
            return (Experts.ToFloat(layer.Output.ToArray<BFloat16>()), buffer.Backend);
        }
    }
}
