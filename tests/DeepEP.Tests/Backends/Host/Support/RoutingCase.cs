using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>How a case's tokens pick experts.</summary>
internal enum RoutingPattern
{
    /// <summary>Distinct random experts per token, some slots -1, some tokens with no expert at all.</summary>
    Random,
    /// <summary>Every token selects the same single expert (one slot), the other slots -1.</summary>
    OneExpert,
    /// <summary>No token selects anything.</summary>
    Nowhere,
}

/// <summary>
/// The shape of one randomised multi-rank case; <see cref="Build"/> turns it into per-rank data from
/// <see cref="Seed"/>, so the printed case reproduces a failure.
/// </summary>
internal sealed record RoutingCase(int NumRanks, int NumLocalExperts, int NumTopk, int Hidden, int NumChannels, int MaxTokens, RoutingPattern Pattern, int Seed)
{
    private static readonly int[] LocalExpertChoices = [1, 2, 3, 5, 8, 16, 32, 64, 128, 512];

    public int NumExperts => NumRanks * NumLocalExperts;

    /// <summary>
    /// Cases over the given rank counts and hidden sizes with at most <paramref name="maxExperts"/> experts;
    /// T per rank in [0, maxTokens] (at most 2 for H ≥ 4096).
    /// </summary>
    public static Gen<RoutingCase> Generator(int[] rankCounts, int[] hiddenSizes, int maxTokens = 12, int maxExperts = 512) =>
        Gen.Select(
            Gen.Int[0, rankCounts.Length - 1],
            Gen.Int[0, LocalExpertChoices.Length - 1],
            Gen.Int[1, 9],
            Gen.Int[0, hiddenSizes.Length - 1],
            Gen.Int[1, 12],
            Gen.Int[0, maxTokens],
            Gen.Int[0, 9],
            Gen.Int)
        .Select((rankIndex, expertIndex, topk, hiddenIndex, channels, tokens, pattern, seed) =>
        {
            int numRanks = rankCounts[rankIndex];
            int numLocalExperts = Math.Max(1, Math.Min(LocalExpertChoices[expertIndex], maxExperts / numRanks));
            return new RoutingCase(
                numRanks,
                numLocalExperts,
                Math.Min(topk, numRanks * numLocalExperts),
                hiddenSizes[hiddenIndex],
                channels,
                tokens,
                pattern switch { 0 => RoutingPattern.OneExpert, 1 => RoutingPattern.Nowhere, _ => RoutingPattern.Random },
                seed);
        });

    /// <summary>
    /// Per-rank routing, weights and BF16 data. With <paramref name="exactlySummable"/> every value is
    /// ±(0..15)·2^k, so sums of up to 15 copies are exact in BF16.
    /// </summary>
    public RankData[] Build(bool exactlySummable = false)
    {
        var random = new Random(Seed);
        int sharedExpert = random.Next(NumExperts);
        var ranks = new RankData[NumRanks];
        for (int r = 0; r < NumRanks; r++)
        {
            int numTokens = random.Next(Hidden >= 4096 ? Math.Min(MaxTokens, 2) + 1 : MaxTokens + 1);
            var topkIdx = new long[numTokens, NumTopk];
            var topkWeights = new float[numTokens, NumTopk];
            for (int t = 0; t < numTokens; t++)
            {
                long[] row = Pattern switch
                {
                    RoutingPattern.Random => RandomRow(random),
                    RoutingPattern.OneExpert => OneExpertRow(random, sharedExpert),
                    _ => Enumerable.Repeat(-1L, NumTopk).ToArray(),
                };
                for (int k = 0; k < NumTopk; k++)
                {
                    topkIdx[t, k] = row[k];
                    topkWeights[t, k] = (float)((random.NextDouble() * 2) - 0.5);
                }
            }
            var x = new BFloat16[numTokens * Hidden];
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = exactlySummable
                    ? BFloat16.FromFloat(MathF.ScaleB(random.Next(-15, 16), random.Next(-4, 4)))
                    : BFloat16.FromFloat((float)Gaussian(random));
            }
            ranks[r] = new RankData(topkIdx, topkWeights, x, Hidden);
        }
        return ranks;
    }

    private long[] RandomRow(Random random)
    {
        var row = new long[NumTopk];
        bool goesNowhere = random.NextDouble() < 0.1;
        var chosen = new HashSet<long>();
        for (int k = 0; k < NumTopk; k++)
        {
            long expert;
            do
            {
                expert = random.Next(NumExperts);
            }
            while (!chosen.Add(expert));
            row[k] = goesNowhere || random.NextDouble() < 0.15 ? -1 : expert;
        }
        return row;
    }

    private long[] OneExpertRow(Random random, int expert)
    {
        long[] row = Enumerable.Repeat(-1L, NumTopk).ToArray();
        row[random.Next(NumTopk)] = expert;
        return row;
    }

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

/// <summary>One rank's inputs: <c>[T, K]</c> routing and weights and <c>[T, H]</c> BF16 data (row-major).</summary>
internal sealed record RankData(long[,] TopkIdx, float[,] TopkWeights, BFloat16[] X, int Hidden)
{
    public int NumTokens => TopkIdx.GetLength(0);

    public int NumTopk => TopkIdx.GetLength(1);

    public ReadOnlySpan<BFloat16> Row(int token) => X.AsSpan(token * Hidden, Hidden);
}
