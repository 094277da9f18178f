using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>One randomly generated normal-mode input per rank: routing, BF16 rows, FP8 rows with scales, weights, bias.</summary>
internal sealed record NormalCase(int Tokens, int Hidden, int Experts, int Topk, int Seed, int MaskedSlots = 0, int? OnlyExpert = null, bool Skewed = false)
{
    public RankInputs For(int rank)
    {
        var random = new Random(unchecked((((Seed * 1_000_003) + rank) * 1_000_003) + (Tokens * 31) + (Hidden * 17) + (Experts * 13) + Topk));
        var topk = new long[Tokens * Topk];
        var pool = Enumerable.Range(0, Experts).ToArray();
        for (int t = 0; t < Tokens; t++)
        {
            for (int k = 0; k < Topk; k++)
            {
                int j = random.Next(k, Experts);
                (pool[k], pool[j]) = (pool[j], pool[k]);
                topk[(t * Topk) + k] = OnlyExpert is { } only ? (k == 0 ? only : -1) : pool[k];
            }
        }
        if (Skewed)
        {
            Support.SkewedRouting.Apply(random, topk, Topk);
        }
        for (int m = 0; m < MaskedSlots && topk.Length > 0; m++)
        {
            topk[random.Next(topk.Length)] = -1;
        }
        var x = new BFloat16[Tokens * Hidden];
        var bias = new BFloat16[Tokens * Hidden];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = BFloat16.FromFloat((float)((random.NextDouble() * 4) - 2));
            bias[i] = BFloat16.FromFloat((float)(random.NextDouble() - 0.5));
        }
        var weights = new float[Tokens * Topk];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)random.NextDouble();
        }
        return new RankInputs(this, x, topk, weights, bias);
    }
}

/// <summary>The host arrays of one rank's inputs, copied to wherever a backend wants them.</summary>
internal sealed record RankInputs(NormalCase Case, BFloat16[] X, long[] TopkIdx, float[] TopkWeights, BFloat16[] Bias)
{
    public DeviceTensor XOn(int device) => DeviceTensor.FromArray<BFloat16>(X, [Case.Tokens, Case.Hidden], device);

    public DeviceTensor TopkOn(int device) => DeviceTensor.FromArray<long>(TopkIdx, [Case.Tokens, Case.Topk], device);

    public DeviceTensor WeightsOn(int device) => DeviceTensor.FromArray<float>(TopkWeights, [Case.Tokens, Case.Topk], device);

    public DeviceTensor BiasOn(int device) => DeviceTensor.FromArray<BFloat16>(Bias, [Case.Tokens, Case.Hidden], device);
}
