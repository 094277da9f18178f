using CsCheck;
using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Normal-mode combine (spec §3) and the send_head rewrite it performs (spec §2.5).</summary>
public sealed class NormalCombineTests
{
    [Fact]
    public void IdentityExpertsReturnXTimesTheRanksReached()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256, 7168]), c =>
        {
            RankData[] ranks = c.Build(exactlySummable: true);
            CombineResult[] results = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                DispatchResult dispatched = NormalDispatchTests.Dispatch(backend, ranks[group.Rank], c);
                return backend.Combine(HostRequests.Combine(dispatched.RecvX, dispatched.Handle!));
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                bool[,] inRank = RoutingOracle.IsTokenInRank(ranks[r].TopkIdx, c.NumExperts, c.NumRanks);
                Assert.Equal([ranks[r].NumTokens, c.Hidden], results[r].CombinedX.Shape.ToArray());
                Assert.Null(results[r].CombinedTopkWeights);
                for (int t = 0; t < ranks[r].NumTokens; t++)
                {
                    int reached = Enumerable.Range(0, c.NumRanks).Count(d => inRank[t, d]);
                    ReadOnlySpan<BFloat16> combined = HostTensorAccess.Row<BFloat16>(results[r].CombinedX, t);
                    for (int h = 0; h < c.Hidden; h++)
                    {
                        Assert.Equal(ranks[r].Row(t)[h].ToFloat() * reached, combined[h].ToFloat());
                    }
                }
            }
        });
    }

    [Fact]
    public void CombineMatchesTheSpecOrderBitForBitWithBiasAndWeights()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256]), c =>
        {
            RankData[] ranks = c.Build();
            int numBiases = Math.Abs(c.Seed % 3);
            var random = new Random(c.Seed);
            int[] numRows = [.. Enumerable.Range(0, c.NumRanks).Select(r => RoutingOracle.ReceivedTokens(ranks, c.NumExperts, r).Count)];
            float[][] inputs = [.. numRows.Select(m => RandomBf16(random, m * c.Hidden))];
            float[][] weights = [.. numRows.Select(m => RandomFloats(random, m * c.NumTopk))];
            float[][] bias0 = [.. ranks.Select(rank => RandomBf16(random, rank.NumTokens * c.Hidden))];
            float[][] bias1 = [.. ranks.Select(rank => RandomBf16(random, rank.NumTokens * c.Hidden))];

            CombineResult[] results = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                int r = group.Rank;
                using var backend = new HostBackend(group);
                DispatchResult dispatched = NormalDispatchTests.Dispatch(backend, ranks[r], c);
                return backend.Combine(HostRequests.Combine(
                    Bf16Tensor(inputs[r], numRows[r], c.Hidden),
                    dispatched.Handle!,
                    HostTensors.From(weights[r], numRows[r], c.NumTopk),
                    numBiases >= 1 ? Bf16Tensor(bias0[r], ranks[r].NumTokens, c.Hidden) : null,
                    numBiases >= 2 ? Bf16Tensor(bias1[r], ranks[r].NumTokens, c.Hidden) : null));
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                ushort[,] expected = RoutingOracle.NormalCombine(ranks, c.NumExperts, r, inputs, numBiases >= 1 ? bias0[r] : null, numBiases >= 2 ? bias1[r] : null);
                Assert.Equal(expected, HostTensors.To2D<ushort>(results[r].CombinedX));
                Assert.Equal(RoutingOracle.NormalCombineWeights(ranks, c.NumExperts, r, weights), HostTensors.To2D<float>(results[r].CombinedTopkWeights!));
            }
        });
    }

    [Fact]
    public void TokensSentNowhereCombineToTheBiasAndZeroWeights()
    {
        var c = new RoutingCase(4, 2, 3, 128, 2, 5, RoutingPattern.Nowhere, 3);
        RankData[] ranks = c.Build();
        CombineResult[] results = RankThreads.RunInProcess(c.NumRanks, group =>
        {
            RankData me = ranks[group.Rank];
            using var backend = new HostBackend(group);
            DispatchResult dispatched = NormalDispatchTests.Dispatch(backend, me, c);
            return backend.Combine(HostRequests.Combine(
                dispatched.RecvX, dispatched.Handle!, dispatched.RecvTopkWeights, HostTensors.From(me.X, me.NumTokens, c.Hidden)));
        });
        for (int r = 0; r < c.NumRanks; r++)
        {
            Assert.Equal(ranks[r].X, results[r].CombinedX.ToArray<BFloat16>());
            Assert.All(results[r].CombinedTopkWeights!.ToArray<float>(), w => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(w)));
        }
    }

    [Fact]
    public void CombineRewritesSendHeadOnceAndRepeatsIdentically()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128]), c =>
        {
            RankData[] ranks = c.Build();
            (DispatchHandle Handle, CombineResult First, CombineResult Second)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                DispatchResult dispatched = NormalDispatchTests.Dispatch(backend, ranks[group.Rank], c);
                CombineResult first = backend.Combine(HostRequests.Combine(dispatched.RecvX, dispatched.Handle!, dispatched.RecvTopkWeights));
                CombineResult second = backend.Combine(HostRequests.Combine(dispatched.RecvX, dispatched.Handle!, dispatched.RecvTopkWeights));
                return (dispatched.Handle!, first, second);
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                bool[,] inRank = RoutingOracle.IsTokenInRank(ranks[r].TopkIdx, c.NumExperts, c.NumRanks);
                Assert.Equal(RoutingOracle.SendHead(inRank, c.NumChannels, afterCombine: true), HostTensors.To2D<int>(outputs[r].Handle.SendHead));
                Assert.Equal(outputs[r].First.CombinedX.ToArray<BFloat16>(), outputs[r].Second.CombinedX.ToArray<BFloat16>());
                Assert.Equal(outputs[r].First.CombinedTopkWeights!.ToArray<float>(), outputs[r].Second.CombinedTopkWeights!.ToArray<float>());
            }
        }, iter: 50);
    }

    [Fact]
    public void CombineWithAnotherChannelCountThanTheHandleFails()
    {
        var c = new RoutingCase(2, 2, 2, 128, 3, 4, RoutingPattern.Random, 5);
        RankData[] ranks = c.Build();
        var outcomes = RankThreads.Run(ProcessGroup.CreateInProcess(c.NumRanks), group =>
        {
            using var backend = new HostBackend(group);
            DispatchResult dispatched = NormalDispatchTests.Dispatch(backend, ranks[group.Rank], c);
            return backend.Combine(new NormalCombineRequest(
                dispatched.RecvX, dispatched.Handle!, null, null, null, HostRequests.Config(c.NumChannels + 1), StreamOptions.Default));
        });
        Assert.IsType<InvalidOperationException>(RankThreads.FirstOwnFailure(outcomes));
    }

    private static DeviceTensor Bf16Tensor(float[] values, long rows, long columns) =>
        HostTensors.From(Array.ConvertAll(values, BFloat16.FromFloat), rows, columns);

    private static float[] RandomBf16(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => BFloat16.FromFloat((float)((random.NextDouble() * 8) - 4)).ToFloat())];

    private static float[] RandomFloats(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1))];
}
