using CsCheck;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>
/// Low-latency dispatch (spec §5.3), checked order-independently as the spec requires: counts, layout ranges,
/// and each (token, expert) pair once with its source index and payload.
/// </summary>
public sealed class LowLatencyDispatchTests
{
    [Fact]
    public void EveryTokenExpertPairArrivesOnceWithItsSourceAndBf16Payload()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256]), c => CheckDispatch(c, Fp8Mode.None), iter: 80);
    }

    [Fact]
    public void Fp8PayloadAndScalesEqualTheHostCastOfEachToken()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 512]), c => CheckDispatch(c, Fp8Mode.Plain), iter: 40);
    }

    [Fact]
    public void RoundedAndUe8m0ScalesEqualTheHostCastOfEachToken()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [512, 1024]), c => CheckDispatch(c, (c.Seed & 1) == 0 ? Fp8Mode.RoundScale : Fp8Mode.Ue8m0), iter: 40);
    }

    [Fact]
    public void LargeHiddenSizesDispatchExactly()
    {
        Check.Sample(RoutingCase.Generator([2, 8], [7168], maxExperts: 32), c => CheckDispatch(c, (c.Seed & 1) == 0 ? Fp8Mode.None : Fp8Mode.Ue8m0), iter: 10);
    }

    private static void CheckDispatch(RoutingCase c, Fp8Mode mode)
    {
        RankData[] ranks = c.Build();
        int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
        bool useFp8 = mode != Fp8Mode.None;
        bool roundScale = mode is Fp8Mode.RoundScale or Fp8Mode.Ue8m0;
        bool useUe8m0 = mode == Fp8Mode.Ue8m0;
        int[][] statsBefore = [.. ranks.Select((_, r) => Enumerable.Range(0, c.NumLocalExperts).Select(e => (r * 7) + e).ToArray())];
        (LowLatencyDispatchResult Result, int[] Stats)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
        {
            using var backend = new HostBackend(group);
            var stats = DeviceTensor.FromArray<int>(statsBefore[group.Rank], [c.NumLocalExperts]);
            LowLatencyDispatchResult result = LowLatencyRun.Dispatch(backend, ranks[group.Rank], c, maxTokens, stats, useFp8, roundScale, useUe8m0);
            return (result, stats.ToArray<int>());
        });
        Fp8Tensor?[] casts = [.. ranks.Select(rank => useFp8 ? Fp8Cast.PerTokenCast(HostTensors.From(rank.X, rank.NumTokens, c.Hidden), roundScale, useUe8m0) : null)];
        bool[] noMask = new bool[c.NumRanks];
        int rows = c.NumRanks * maxTokens;

        for (int r = 0; r < c.NumRanks; r++)
        {
            LowLatencyDispatchResult result = outputs[r].Result;
            int[] counts = result.PackedRecvCount.ToArray<int>();
            int[] expectedCounts = RoutingOracle.LowLatencyCounts(ranks, c.NumExperts, r, noMask);
            Assert.Equal(expectedCounts, counts);
            Assert.Equal(statsBefore[r].Zip(expectedCounts, (before, n) => before + n), outputs[r].Stats);
            Assert.Equal([c.NumLocalExperts, rows, c.Hidden], result.PackedRecvX.Shape.ToArray());
            Assert.Equal(useFp8 ? DType.Float8E4M3 : DType.BFloat16, result.PackedRecvX.DType);
            Assert.Equal((result.Handle.NumMaxDispatchTokensPerRank, result.Handle.Hidden, result.Handle.NumExperts), (maxTokens, c.Hidden, c.NumExperts));
            if (useFp8)
            {
                int columns = c.Hidden / 128 / (useUe8m0 ? 4 : 1);
                Assert.Equal([c.NumLocalExperts, rows, columns], result.PackedRecvXScales!.Shape.ToArray());
                Assert.Equal([(long)columns * rows, 1, rows], result.PackedRecvXScales.Strides.ToArray());
                Assert.Equal(useUe8m0 ? DType.Int32 : DType.Float32, result.PackedRecvXScales.DType);
            }
            else
            {
                Assert.Null(result.PackedRecvXScales);
            }

            for (int e = 0; e < c.NumLocalExperts; e++)
            {
                List<(int Source, int Token)> expectedPairs = RoutingOracle.LowLatencyPairs(ranks, c.NumExperts, r, e, noMask);
                var ranges = new List<(int Begin, int Count)>();
                for (int s = 0; s < c.NumRanks; s++)
                {
                    long packed = result.Handle.PackedRecvLayoutRange.At<long>(e, s);
                    (int begin, int count) = ((int)(packed >> 32), (int)(packed & 0xFFFFFFFF));
                    ranges.Add((begin, count));
                    var tokens = new List<int>();
                    for (int row = begin; row < begin + count; row++)
                    {
                        int token = result.Handle.PackedRecvSrcInfo.At<int>(e, row);
                        tokens.Add(token);
                        CheckPayload(result, e, row, ranks[s], casts[s], token, c.Hidden, useUe8m0);
                    }
                    Assert.Equal(expectedPairs.Where(p => p.Source == s).Select(p => p.Token).Order(), tokens.Order());
                }
                // The ranges of an expert tile its valid rows [0, count) without gaps or overlaps.
                int next = 0;
                foreach ((int begin, int count) in ranges.Where(range => range.Count > 0).OrderBy(range => range.Begin))
                {
                    Assert.Equal(next, begin);
                    next += count;
                }
                Assert.Equal(counts[e], next);
            }
        }
    }

    private static void CheckPayload(LowLatencyDispatchResult result, int e, int row, RankData source, Fp8Tensor? cast, int token, int hidden, bool useUe8m0)
    {
        if (cast is null)
        {
            Assert.True(source.Row(token).SequenceEqual(HostTensorAccess.Row<BFloat16>(result.PackedRecvX, e, row)));
            return;
        }
        Assert.True(HostTensorAccess.Row<Float8E4M3>(cast.Data, token).SequenceEqual(HostTensorAccess.Row<Float8E4M3>(result.PackedRecvX, e, row)));
        for (int g = 0; g < cast.Scales.Size(1); g++)
        {
            int expected = cast.Scales.At<int>(token, g);
            int actual = result.PackedRecvXScales!.At<int>(e, row, g);
            Assert.True(expected == actual, $"scale {g} of token {token}: {expected:X8} vs {actual:X8} ({(useUe8m0 ? "UE8M0" : "float")}, H = {hidden})");
        }
    }

    private enum Fp8Mode
    {
        None,
        Plain,
        RoundScale,
        Ue8m0,
    }
}
