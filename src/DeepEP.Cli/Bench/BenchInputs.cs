using System.Collections.Concurrent;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Deterministic random inputs of one rank: any rank can regenerate any other rank's inputs from
/// (seed, rank), which is what lets every rank check what it received without trusting the backend.
/// </summary>
internal sealed class BenchInputs
{
    private BenchInputs(BFloat16[] x, long[] topkIdx, float[] topkWeights, int tokens, int hidden, int topk)
    {
        X = x;
        TopkIdx = topkIdx;
        TopkWeights = topkWeights;
        Tokens = tokens;
        Hidden = hidden;
        Topk = topk;
    }

    /// <summary><c>[T, H]</c> BF16 standard-normal values.</summary>
    public BFloat16[] X { get; }

    /// <summary><c>[T, K]</c> distinct random experts per token, some slots -1 when masking was asked for.</summary>
    public long[] TopkIdx { get; }

    /// <summary><c>[T, K]</c> |normal| weights.</summary>
    public float[] TopkWeights { get; }

    /// <summary>T.</summary>
    public int Tokens { get; }

    /// <summary>H.</summary>
    public int Hidden { get; }

    /// <summary>K.</summary>
    public int Topk { get; }

    private static readonly ConcurrentDictionary<(int, int, int, int, int, int, int), Lazy<BenchInputs>> Cache = new();

    /// <summary>The inputs of <paramref name="rank"/>, generated once per process (ranks that are threads share them).</summary>
    public static BenchInputs Get(int seed, int rank, int tokens, int hidden, int topk, int experts, int maskedSlots = 0) =>
        Cache.GetOrAdd((seed, rank, tokens, hidden, topk, experts, maskedSlots),
            key => new Lazy<BenchInputs>(() => Create(key.Item1, key.Item2, key.Item3, key.Item4, key.Item5, key.Item6, key.Item7))).Value;

    /// <summary>The inputs of <paramref name="rank"/>; <paramref name="maskedSlots"/> random (t, k) slots become -1.</summary>
    private static BenchInputs Create(int seed, int rank, int tokens, int hidden, int topk, int experts, int maskedSlots = 0)
    {
        // Not HashCode.Combine: it is randomised per process, and ranks in other processes must regenerate these inputs.
        var random = new Random(unchecked((((((seed * 1_000_003) + rank) * 1_000_003) + tokens) * 31) + (hidden * 17) + (topk * 13) + experts));
        var x = new BFloat16[(long)tokens * hidden];
        for (long i = 0; i < x.Length; i++)
        {
            x[i] = BFloat16.FromFloat((float)NextGaussian(random));
        }
        var topkIdx = new long[tokens * topk];
        var candidates = Enumerable.Range(0, experts).ToArray();
        for (int t = 0; t < tokens; t++)
        {
            // A partial Fisher–Yates shuffle picks K distinct experts, like top-k of i.i.d. scores.
            for (int k = 0; k < topk; k++)
            {
                int j = random.Next(k, experts);
                (candidates[k], candidates[j]) = (candidates[j], candidates[k]);
                topkIdx[(t * topk) + k] = candidates[k];
            }
        }
        for (int m = 0; m < maskedSlots && tokens > 0; m++)
        {
            topkIdx[random.Next(tokens * topk)] = -1;
        }
        var weights = new float[tokens * topk];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)Math.Abs(NextGaussian(random));
        }
        return new BenchInputs(x, topkIdx, weights, tokens, hidden, topk);
    }

    /// <summary>Row <paramref name="token"/> of <see cref="X"/>.</summary>
    public ReadOnlySpan<BFloat16> Row(long token) => X.AsSpan((int)(token * Hidden), Hidden);

    /// <summary>Whether token <paramref name="token"/> selects an expert of rank <paramref name="rank"/>.</summary>
    public bool SelectsRank(int token, int rank, int localExperts)
    {
        for (int k = 0; k < Topk; k++)
        {
            long e = TopkIdx[(token * Topk) + k];
            if (e >= 0 && e / localExperts == rank)
            {
                return true;
            }
        }
        return false;
    }

    private static double NextGaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
