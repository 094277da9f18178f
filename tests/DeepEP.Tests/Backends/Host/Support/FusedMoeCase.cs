using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>One rank's fused-MoE inputs: <c>[T, H]</c> BF16 tokens, <c>[T, K]</c> routing (some slots -1) and weights.</summary>
internal sealed record FusedMoeRankInputs(BFloat16[] X, long[] TopkIdx, float[] TopkWeights, int NumTokens, int NumTopk, int Hidden)
{
    public DeviceTensor XTensor() => DeviceTensor.FromArray<BFloat16>(X, [NumTokens, Hidden]);

    public DeviceTensor TopkIdxTensor() => DeviceTensor.FromArray<long>(TopkIdx, [NumTokens, NumTopk]);

    public DeviceTensor TopkWeightsTensor() => DeviceTensor.FromArray<float>(TopkWeights, [NumTokens, NumTopk]);
}

/// <summary>
/// A seeded fused-MoE case: every rank's tokens and routing, and the BF16 weights of all <see cref="NumExperts"/> experts
/// (Gaussian, scaled so activations stay O(1)), from which each rank quantises its own slice.
/// </summary>
/// <param name="TokensPerRank">T of each rank (0, 1 and odd counts); its length is the rank count R.</param>
/// <param name="NumExperts">E, a multiple of R.</param>
/// <param name="Hidden">H, a multiple of 128.</param>
/// <param name="Intermediate">I, a multiple of 128.</param>
/// <param name="NumTopk">K, at most E.</param>
/// <param name="Quant">The weights' format.</param>
/// <param name="Seed">Reproduces every value.</param>
internal sealed record FusedMoeCase(int[] TokensPerRank, int NumExperts, int Hidden, int Intermediate, int NumTopk, MoeQuantMode Quant, int Seed)
{
    /// <summary>The probability that a top-k slot is masked (-1).</summary>
    private const double MaskedSlotShare = 0.2;

    public int NumRanks => TokensPerRank.Length;

    public int NumLocalExperts => NumExperts / NumRanks;

    /// <summary>N: one more than the busiest rank's T, so the capacity is never exactly full.</summary>
    public int MaxTokens => TokensPerRank.Max() + 1;

    public long RdmaBytes => EpBuffer.GetLowLatencyRdmaSizeHint(MaxTokens, Hidden, NumRanks, NumExperts);

    /// <summary>Every rank's inputs and each rank's quantised weights (the caller disposes them).</summary>
    public (FusedMoeRankInputs[] Inputs, MoeExpertWeights[] Weights) Build()
    {
        var random = new Random(Seed);
        var inputs = new FusedMoeRankInputs[NumRanks];
        for (int r = 0; r < NumRanks; r++)
        {
            int tokens = TokensPerRank[r];
            var x = new BFloat16[tokens * Hidden];
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = BFloat16.FromFloat((float)RoutingCase.Gaussian(random));
            }
            var topkIdx = new long[tokens * NumTopk];
            var topkWeights = new float[tokens * NumTopk];
            for (int t = 0; t < tokens; t++)
            {
                int[] experts = [.. Enumerable.Range(0, NumExperts).OrderBy(_ => random.Next()).Take(NumTopk)];
                for (int k = 0; k < NumTopk; k++)
                {
                    topkIdx[(t * NumTopk) + k] = random.NextDouble() < MaskedSlotShare ? -1 : experts[k];
                    topkWeights[(t * NumTopk) + k] = (float)((random.NextDouble() * 1.5) - 0.25);
                }
            }
            inputs[r] = new FusedMoeRankInputs(x, topkIdx, topkWeights, tokens, NumTopk, Hidden);
        }
        BFloat16[] w1 = RandomWeights(random, NumExperts * 2 * Intermediate * Hidden, Hidden);
        BFloat16[] w2 = RandomWeights(random, NumExperts * Hidden * Intermediate, Intermediate);
        var weights = new MoeExpertWeights[NumRanks];
        for (int r = 0; r < NumRanks; r++)
        {
            int w1Size = NumLocalExperts * 2 * Intermediate * Hidden;
            int w2Size = NumLocalExperts * Hidden * Intermediate;
            using var w1Slice = DeviceTensor.FromArray<BFloat16>(w1.AsSpan(r * w1Size, w1Size), [NumLocalExperts, 2 * Intermediate, Hidden]);
            using var w2Slice = DeviceTensor.FromArray<BFloat16>(w2.AsSpan(r * w2Size, w2Size), [NumLocalExperts, Hidden, Intermediate]);
            weights[r] = MoeExpertWeights.Quantize(w1Slice, w2Slice, Quant);
        }
        return (inputs, weights);
    }

    public override string ToString() =>
        $"R={NumRanks} T=[{string.Join(",", TokensPerRank)}] E={NumExperts} H={Hidden} I={Intermediate} K={NumTopk} {Quant} seed={Seed}";

    // N(0, 1/fanIn): each projection keeps unit-scale activations unit-scale.
    private static BFloat16[] RandomWeights(Random random, int count, int fanIn)
    {
        double std = 1 / Math.Sqrt(fanIn);
        var weights = new BFloat16[count];
        for (int i = 0; i < count; i++)
        {
            weights[i] = BFloat16.FromFloat((float)(RoutingCase.Gaussian(random) * std));
        }
        return weights;
    }
}
