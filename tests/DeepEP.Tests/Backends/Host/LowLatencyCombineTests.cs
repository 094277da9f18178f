using CsCheck;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Low-latency combine (spec §5.4): weighted top-k reduction in slot order with FMA, zero-copy and <c>out</c>.</summary>
public sealed class LowLatencyCombineTests
{
    [Fact]
    public void WeightedCombineEqualsTheFmaOrderAndStaysWithinBf16OfFloat64()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256]), c =>
        {
            RankData[] ranks = c.Build();
            int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
            bool zeroCopy = (c.Seed & 1) != 0;
            bool withOut = (c.Seed & 2) != 0;
            (LowLatencyCombineResult Result, DeviceTensor? Out)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = ranks[group.Rank];
                LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, maxTokens);
                DeviceTensor x;
                if (zeroCopy)
                {
                    LowLatencyRun.WriteExpertOutputs(dispatched, group.Rank, backend.GetNextLowLatencyCombineBuffer(dispatched.Handle));
                    x = DeviceTensor.Empty(DType.BFloat16, dispatched.PackedRecvX.Shape);
                }
                else
                {
                    x = LowLatencyRun.ExpertOutputs(dispatched, group.Rank);
                }
                DeviceTensor? output = withOut ? DeviceTensor.Empty(DType.BFloat16, [me.NumTokens, c.Hidden]) : null;
                LowLatencyCombineResult combined = backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                    x, HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle, zeroCopy, output: output));
                return (combined, output);
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                CheckCombined(ranks[r], c, new bool[c.NumRanks], outputs[r].Result.CombinedX);
                if (withOut)
                {
                    Assert.Same(outputs[r].Out, outputs[r].Result.CombinedX);
                }
            }
        });
    }

    [Fact]
    public void LargeHiddenSizesCombineExactly()
    {
        Check.Sample(RoutingCase.Generator([2, 8], [7168], maxExperts: 32), c =>
        {
            RankData[] ranks = c.Build();
            int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
            LowLatencyCombineResult[] results = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = ranks[group.Rank];
                LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, maxTokens);
                return backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                    LowLatencyRun.ExpertOutputs(dispatched, group.Rank), HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle));
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                CheckCombined(ranks[r], c, new bool[c.NumRanks], results[r].CombinedX);
            }
        }, iter: 10);
    }

    [Fact]
    public void CombineFusesEachMultiplyAdd()
    {
        // x = -(1 + 2^-7), experts 0 and 1 scale it by 1/2 and 1, weights -2 and 1 + 2^-23: the first slot gives
        // 1 + 2^-7 exactly, the second product -(1 + 2^-7 + 2^-23 + 2^-30) needs 32 bits. FMA keeps the 2^-30 term
        // (sum -(2^-23 + 2^-30), exact in BF16); multiply-then-add rounds it away (sum -2^-23).
        var c = new RoutingCase(1, 2, 2, 128, 1, 1, RoutingPattern.Random, 0);
        float x = -(1 + MathF.ScaleB(1, -7));
        var me = new RankData(new long[,] { { 0, 1 } }, new float[,] { { -2f, 1 + MathF.ScaleB(1, -23) } }, [.. Enumerable.Repeat(BFloat16.FromFloat(x), c.Hidden)], c.Hidden);
        LowLatencyCombineResult result = RankThreads.RunInProcess(1, group =>
        {
            using var backend = new HostBackend(group);
            LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, 1);
            return backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                LowLatencyRun.ExpertOutputs(dispatched, 0), HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle));
        })[0];
        float fused = -(MathF.ScaleB(1, -23) + MathF.ScaleB(1, -30));
        Assert.All(result.CombinedX.ToArray<BFloat16>(), v => Assert.Equal(fused, v.ToFloat()));
    }

    [Fact]
    public void LogFmtCombineReducesTheDecodedRowsAndStaysCloseToTheExactSum()
    {
        var c = new RoutingCase(2, 4, 3, 1024, 1, 16, RoutingPattern.Random, 11);
        RankData[] ranks = c.Build();
        int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
        // Expert e returns its input times 2^-(4 + e % 3): |x| < 1, so every stage is encoded.
        static float Scale(long expert) => MathF.ScaleB(1f, -4 - (int)(expert % 3));
        DeviceTensor[] combined = RankThreads.RunInProcess(c.NumRanks, group =>
        {
            using var backend = new HostBackend(group);
            RankData me = ranks[group.Rank];
            LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, maxTokens);
            DeviceTensor outputs = DeviceTensor.Zeros(DType.BFloat16, dispatched.PackedRecvX.Shape);
            int[] counts = dispatched.PackedRecvCount.ToArray<int>();
            for (int e = 0; e < counts.Length; e++)
            {
                for (int row = 0; row < counts[e]; row++)
                {
                    ReadOnlySpan<BFloat16> input = HostTensorAccess.Row<BFloat16>(dispatched.PackedRecvX, e, row);
                    Span<BFloat16> output = HostTensorAccess.Row<BFloat16>(outputs, e, row);
                    for (int h = 0; h < input.Length; h++)
                    {
                        output[h] = BFloat16.FromFloat(input[h].ToFloat() * Scale(((long)group.Rank * counts.Length) + e));
                    }
                }
            }
            return backend.LowLatencyCombine(HostRequests.LowLatencyCombine(outputs, HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle)
                with
            { UseLogfmt = true }).CombinedX;
        });
        double dot = 0, norms = 0;
        for (int r = 0; r < c.NumRanks; r++)
        {
            RankData me = ranks[r];
            BFloat16[,] got = HostTensors.To2D<BFloat16>(combined[r]);
            for (int t = 0; t < me.NumTokens; t++)
            {
                var acc = new float[c.Hidden];
                var exact = new double[c.Hidden];
                for (int k = 0; k < me.NumTopk; k++)
                {
                    long expert = me.TopkIdx[t, k];
                    if (expert < 0)
                    {
                        continue;
                    }
                    BFloat16[] row = [.. me.Row(t).ToArray().Select(v => BFloat16.FromFloat(v.ToFloat() * Scale(expert)))];
                    var decoded = new float[c.Hidden];
                    LogFmt10.Decode(LogFmt10.Encode(row), decoded);
                    for (int h = 0; h < c.Hidden; h++)
                    {
                        acc[h] = MathF.FusedMultiplyAdd(decoded[h], me.TopkWeights[t, k], acc[h]);
                        exact[h] += (double)row[h].ToFloat() * me.TopkWeights[t, k];
                    }
                }
                for (int h = 0; h < c.Hidden; h++)
                {
                    Assert.Equal(BFloat16.FromFloat(acc[h]), got[t, h]);
                    dot += exact[h] * got[t, h].ToFloat();
                    norms += (exact[h] * exact[h]) + ((double)got[t, h].ToFloat() * got[t, h].ToFloat());
                }
            }
        }
        // DeepEP's calc_diff over every rank: LogFMT-10's 9-bit log grid keeps the combined rows close to the exact sum.
        Assert.True(norms > 0, "no token selected an expert: the case tests nothing");
        Assert.InRange(1 - (2 * dot / norms), 0, 1e-3);
    }

    /// <summary>Bit-exact against the FMA-order recomputation, and within BF16 rounding of the float64 sum.</summary>
    internal static void CheckCombined(RankData rank, RoutingCase c, bool[] masked, DeviceTensor combinedX)
    {
        (double[,] reference, ushort[,] fmaBits) = RoutingOracle.LowLatencyCombine(rank, c.NumExperts, masked, LowLatencyRun.ExpertScale);
        Assert.Equal([rank.NumTokens, c.Hidden], combinedX.Shape.ToArray());
        Assert.Equal(fmaBits, HostTensors.To2D<ushort>(combinedX));
        BFloat16[,] combined = HostTensors.To2D<BFloat16>(combinedX);
        for (int t = 0; t < rank.NumTokens; t++)
        {
            double magnitude = 0;
            for (int k = 0; k < rank.NumTopk; k++)
            {
                magnitude += Math.Abs(rank.TopkWeights[t, k]) * 4;
            }
            for (int h = 0; h < c.Hidden; h++)
            {
                double bound = (Math.Abs(reference[t, h]) * Math.ScaleB(1, -8)) + (magnitude * Math.Abs(rank.Row(t)[h].ToFloat()) * rank.NumTopk * Math.ScaleB(1, -23)) + 1e-30;
                Assert.True(Math.Abs(combined[t, h].ToFloat() - reference[t, h]) <= bound, $"token {t}, channel {h}: {combined[t, h]} vs {reference[t, h]}");
            }
        }
    }
}
