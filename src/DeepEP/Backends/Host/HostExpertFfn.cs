using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// The local experts' feed-forward network over the low-latency packed layout (docs/fused-moe.md): for each valid row
// x of expert e, [g | u] = W1[e] · x, h = bf16(silu(g) ⊙ u), y = bf16(W2[e] · h), each projection in the weights'
// number format (HostLinear).
internal static class HostExpertFfn
{
    // BF16 [E_l, R*N, H] expert outputs of the first packedRecvCount[e] rows of each expert; the other rows are zero.
    public static DeviceTensor Apply(DeviceTensor packedRecvX, DeviceTensor packedRecvCount, MoeExpertWeights weights)
    {
        int intermediate = weights.IntermediateSize;
        var outputs = DeviceTensor.Zeros(DType.BFloat16, packedRecvX.Shape);
        // Experts are independent and write their own rows, so they run in parallel with the same result.
        Parallel.For(0, weights.NumLocalExperts, e =>
        {
            int rows = packedRecvCount.At<int>(e);
            if (rows == 0)
            {
                return;
            }
            var w1 = new HostLinear(weights.QuantMode, weights.W1, weights.W1Scales, e);
            var w2 = new HostLinear(weights.QuantMode, weights.W2, weights.W2Scales, e);
            var gateUp = new float[2 * intermediate];
            var hidden = new BFloat16[intermediate];
            var down = new float[weights.Hidden];
            for (int row = 0; row < rows; row++)
            {
                w1.Apply(HostTensorAccess.Row<BFloat16>(packedRecvX, e, row), gateUp);
                for (int i = 0; i < intermediate; i++)
                {
                    float gate = gateUp[i];
                    hidden[i] = BFloat16.FromFloat(gate / (1f + MathF.Exp(-gate)) * gateUp[intermediate + i]);
                }
                w2.Apply(hidden, down);
                Span<BFloat16> output = HostTensorAccess.Row<BFloat16>(outputs, e, row);
                for (int h = 0; h < down.Length; h++)
                {
                    output[h] = BFloat16.FromFloat(down[h]);
                }
            }
        });
        return outputs;
    }
}
