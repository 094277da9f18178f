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
    public void LogFmtIsReportedAsUnsupported()
    {
        var c = new RoutingCase(1, 2, 2, 128, 1, 2, RoutingPattern.Random, 9);
        RankData me = c.Build()[0];
        RankThreads.RunInProcess(1, group =>
        {
            using var backend = new HostBackend(group);
            LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, 2);
            var request = HostRequests.LowLatencyCombine(dispatched.PackedRecvX, HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle) with { UseLogfmt = true };
            return Assert.Throws<NotSupportedException>(() => backend.LowLatencyCombine(request));
        });
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
