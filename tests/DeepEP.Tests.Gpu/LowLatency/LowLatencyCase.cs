using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// One low-latency configuration and its per-rank inputs (fresh random data, seeded by case and rank). With
/// <c>UseLogfmt</c> the combine sends LogFMT-10 rows, and x is shaped so that both kinds of stage occur.
/// </summary>
internal sealed record LowLatencyCase(
    int Tokens,
    int MaxTokens,
    int Hidden,
    int Experts,
    int Topk,
    int MaskedSlots,
    bool UseFp8,
    bool RoundScale = false,
    bool UseUe8m0 = false,
    bool Hook = false,
    bool ZeroCopy = false,
    bool AsyncFinish = false,
    int Seed = 1,
    bool Skewed = false,
    int SharedExpertRanks = 0,
    bool UseLogfmt = false)
{
    /// <summary>Bytes of a low-latency buffer for this case.</summary>
    public long BufferBytes(int ranks) => Ep.EpBuffer.GetLowLatencyRdmaSizeHint(MaxTokens, Hidden, ranks, Experts, SharedExpertRanks);

    /// <summary>Expert slots per rank: the routed experts over the ranks that hold them (all ranks without shared-expert ranks).</summary>
    public int LocalExperts(int ranks) => Experts / (ranks - SharedExpertRanks);

    /// <summary>x <c>[T, H]</c>, distinct experts per token with some -1 slots, |normal| weights.</summary>
    public (BFloat16[] X, long[] TopkIdx, float[] Weights) Inputs(int rank, int round = 0)
    {
        // Not HashCode.Combine: it is seeded per process, and ranks in other processes must draw the same inputs.
        var random = new Random(unchecked((((((Seed * 1_000_003) + rank) * 1_000_003) + round) * 1_000_003) + (Tokens * 31) + (Hidden * 17) + (Experts * 13) + Topk));
        var x = new BFloat16[Tokens * Hidden];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = BFloat16.FromFloat((float)(random.NextDouble() * 4 - 2) * (UseLogfmt ? LogFmtScale(i / Hidden) : 1f));
        }
        if (UseLogfmt)
        {
            ShapeForLogFmt(x);
        }
        var topk = new long[Tokens * Topk];
        var weights = new float[Tokens * Topk];
        for (int t = 0; t < Tokens; t++)
        {
            int[] experts = Enumerable.Range(0, Experts).OrderBy(_ => random.Next()).Take(Topk).ToArray();
            for (int k = 0; k < Topk; k++)
            {
                topk[(t * Topk) + k] = experts[k];
                weights[(t * Topk) + k] = (float)random.NextDouble();
            }
        }
        if (Skewed)
        {
            Support.SkewedRouting.Apply(random, topk, Topk);
        }
        for (int m = 0; m < MaskedSlots && Tokens > 0; m++)
        {
            topk[random.Next(topk.Length)] = -1;
        }
        return (x, topk, weights);
    }

    // |x| < 1 at a scale per token (a power of two, so exact), for encoded stages with various grids.
    private static float LogFmtScale(int token) => 0.25f / (1 << (token % 6));

    // Raw stages (a value >= 1; an all-zero group, which has no room below its max) and zeros inside encoded groups.
    private void ShapeForLogFmt(BFloat16[] x)
    {
        for (int t = 0; t < Tokens; t++)
        {
            int row = t * Hidden;
            if (t % 3 == 1)
            {
                x[row + (t * 131 % Hidden)] = BFloat16.FromFloat(-1.5f);
            }
            if (t % 4 == 2)
            {
                Array.Fill(x, BFloat16.FromFloat(0f), row + Hidden - 128, 128);
            }
            if (t % 5 == 3)
            {
                x[row + 7] = BFloat16.FromFloat(0f);
            }
        }
    }
}
