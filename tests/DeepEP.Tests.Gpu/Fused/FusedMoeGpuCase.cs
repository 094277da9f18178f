using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>One rank's fused-MoE inputs: <c>[T, H]</c> BF16 tokens, <c>[T, K]</c> routing (-1 = masked slot) and weights.</summary>
internal sealed record FusedMoeRankInputs(BFloat16[] X, long[] TopkIdx, float[] TopkWeights, int NumTokens);

/// <summary>
/// A seeded fused-MoE case for R ranks: tokens of rank r are <see cref="TokensPerRank"/>[r] (0, 1 and odd counts), about
/// 20 % of the top-k slots masked and, where rank 0 has three tokens or more, its last token with every slot masked;
/// Gaussian BF16 weights scaled by 1/√fan-in, quantised per rank with <see cref="MoeExpertWeights.Quantize"/>.
/// </summary>
internal sealed record FusedMoeGpuCase(int[] TokensPerRank, int NumExperts, int Hidden, int Intermediate, int NumTopk, MoeQuantMode Quant, int Seed)
{
    public int NumRanks => TokensPerRank.Length;

    public int NumLocalExperts => NumExperts / NumRanks;

    /// <summary>N: one more than the busiest rank's T.</summary>
    public int MaxTokens => TokensPerRank.Max() + 1;

    public long RdmaBytes => EpBuffer.GetLowLatencyRdmaSizeHint(MaxTokens, Hidden, NumRanks, NumExperts);

    /// <summary>Every rank's inputs and host weights (the caller disposes the weights).</summary>
    public (FusedMoeRankInputs[] Inputs, MoeExpertWeights[] Weights) Build()
    {
        var random = new Random(Seed);
        var inputs = new FusedMoeRankInputs[NumRanks];
        for (int r = 0; r < NumRanks; r++)
        {
            int tokens = TokensPerRank[r];
            BFloat16[] x = [.. Enumerable.Range(0, tokens * Hidden).Select(_ => BFloat16.FromFloat((float)Gaussian(random)))];
            var topkIdx = new long[tokens * NumTopk];
            var topkWeights = new float[tokens * NumTopk];
            for (int t = 0; t < tokens; t++)
            {
                int[] experts = [.. Enumerable.Range(0, NumExperts).OrderBy(_ => random.Next()).Take(NumTopk)];
                bool allMasked = r == 0 && tokens >= 3 && t == tokens - 1;
                for (int k = 0; k < NumTopk; k++)
                {
                    topkIdx[(t * NumTopk) + k] = allMasked || random.NextDouble() < 0.2 ? -1 : experts[k];
                    topkWeights[(t * NumTopk) + k] = (float)((random.NextDouble() * 1.5) - 0.25);
                }
            }
            inputs[r] = new FusedMoeRankInputs(x, topkIdx, topkWeights, tokens);
        }
        var weights = new MoeExpertWeights[NumRanks];
        for (int r = 0; r < NumRanks; r++)
        {
            using DeviceTensor w1 = RandomWeights(random.Next(), [NumLocalExperts, 2 * Intermediate, Hidden], Hidden);
            using DeviceTensor w2 = RandomWeights(random.Next(), [NumLocalExperts, Hidden, Intermediate], Intermediate);
            weights[r] = MoeExpertWeights.Quantize(w1, w2, Quant);
        }
        return (inputs, weights);
    }

    /// <summary>A copy of host <paramref name="weights"/> on <paramref name="device"/>.</summary>
    public static MoeExpertWeights ToDevice(MoeExpertWeights weights, int device) => weights.To(device);

    public override string ToString() =>
        $"R={NumRanks} T=[{string.Join(",", TokensPerRank)}] E={NumExperts} H={Hidden} I={Intermediate} K={NumTopk} {Quant} seed={Seed}";

    // Blocks of rows drawn in parallel, each from its own stream seeded by (seed, block): the same values on any
    // core count, and seconds less per test than one stream (a case draws about 75 M weights over its ranks).
    private static DeviceTensor RandomWeights(int seed, long[] shape, int fanIn)
    {
        const int RowsPerBlock = 64;
        double std = 1 / Math.Sqrt(fanIn);
        int columns = checked((int)shape[2]);
        int rows = checked((int)(shape[0] * shape[1]));
        var values = new BFloat16[checked(rows * columns)];
        Parallel.For(0, (rows + RowsPerBlock - 1) / RowsPerBlock, block =>
        {
            var random = new Random(unchecked((seed * 1_000_003) + block));
            int end = Math.Min(rows, (block + 1) * RowsPerBlock) * columns;
            for (int i = block * RowsPerBlock * columns; i < end; i++)
            {
                values[i] = BFloat16.FromFloat((float)(Gaussian(random) * std));
            }
        });
        return DeviceTensor.FromArray<BFloat16>(values, shape);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
