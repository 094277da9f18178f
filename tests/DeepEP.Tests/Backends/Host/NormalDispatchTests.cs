using CsCheck;
using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Normal-mode layout and dispatch (spec §1, §2.2–2.5) against the independent oracle.</summary>
public sealed class NormalDispatchTests
{
    private static readonly int[] ExpertAlignments = [1, 2, 8, 128];

    [Fact]
    public void LayoutCountsTokensOncePerRankAndSlotsPerExpert()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8, 16, 32], [128]), c =>
        {
            RankData me = c.Build()[0];
            DispatchLayout layout = HostLayout.Compute(HostTensors.From(me.TopkIdx), c.NumExperts, c.NumRanks);
            bool[,] inRank = RoutingOracle.IsTokenInRank(me.TopkIdx, c.NumExperts, c.NumRanks);
            Assert.Equal(RoutingOracle.TokensPerRank(inRank), layout.NumTokensPerRank.ToArray<int>());
            Assert.Equal(RoutingOracle.TokensPerExpert(me.TopkIdx, c.NumExperts), layout.NumTokensPerExpert.ToArray<int>());
            Assert.Equal(inRank, HostTensors.To2D<bool>(layout.IsTokenInRank));
            if (c.NumRanks <= 8)
            {
                Assert.Null(layout.NumTokensPerRdmaRank);
                return;
            }
            int[] perRdmaRank = layout.NumTokensPerRdmaRank!.ToArray<int>();
            for (int q = 0; q < c.NumRanks / 8; q++)
            {
                int expected = Enumerable.Range(0, me.NumTokens).Count(t => Enumerable.Range(8 * q, 8).Any(d => inRank[t, d]));
                Assert.Equal(expected, perRdmaRank[q]);
            }
        });
    }

    [Fact]
    public void EveryTokenReachesEachOwningRankOnceInSourceOrder()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256, 7168]), c =>
        {
            RankData[] ranks = c.Build();
            int alignment = ExpertAlignments[c.Seed & 3];
            (DispatchLayout Layout, DispatchResult Result)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = ranks[group.Rank];
                DeviceTensor topkIdx = (c.Seed & 4) == 0 ? HostTensors.From(me.TopkIdx) : HostTensors.Int32Indices(me.TopkIdx);
                DispatchLayout layout = backend.GetDispatchLayout(topkIdx, c.NumExperts, StreamOptions.Default);
                DispatchResult result = backend.Dispatch(HostRequests.Dispatch(
                    HostTensors.From(me.X, me.NumTokens, c.Hidden), null, layout, topkIdx, HostTensors.From(me.TopkWeights),
                    c.NumExperts, c.NumChannels, alignment));
                return (layout, result);
            });

            for (int r = 0; r < c.NumRanks; r++)
            {
                (DispatchLayout layout, DispatchResult result) = outputs[r];
                List<(int Source, int Token)> expectedRows = RoutingOracle.ReceivedTokens(ranks, c.NumExperts, r);
                Assert.Equal(expectedRows.Count, result.RecvX.Size(0));
                Assert.Equal(expectedRows.Select(row => row.Token), result.Handle!.RecvSrcIdx.ToArray<int>());
                long[,] recvTopkIdx = HostTensors.To2D<long>(result.RecvTopkIdx!.DType == DType.Int64 ? result.RecvTopkIdx : Widen(result.RecvTopkIdx));
                float[,] recvTopkWeights = HostTensors.To2D<float>(result.RecvTopkWeights!);
                for (int row = 0; row < expectedRows.Count; row++)
                {
                    (int s, int t) = expectedRows[row];
                    Assert.True(ranks[s].Row(t).SequenceEqual(HostTensorAccess.Row<BFloat16>(result.RecvX, row)), $"rank {r} row {row} should be token {t} of rank {s}");
                    for (int k = 0; k < c.NumTopk; k++)
                    {
                        long rebased = RoutingOracle.Rebase(ranks[s].TopkIdx[t, k], r, c.NumLocalExperts);
                        Assert.Equal(rebased, recvTopkIdx[row, k]);
                        float weight = rebased >= 0 ? ranks[s].TopkWeights[t, k] : 0f;
                        Assert.Equal(BitConverter.SingleToUInt32Bits(weight), BitConverter.SingleToUInt32Bits(recvTopkWeights[row, k]));
                    }
                }
                Assert.Equal(RoutingOracle.RecvTokensPerExpert(ranks, c.NumExperts, r, alignment), result.NumRecvTokensPerExpertList);
                Assert.Null(result.RecvXScales);
                Assert.Same(layout.IsTokenInRank, result.Handle.IsTokenInRank);
            }
        });
    }

    [Fact]
    public void HandleMatricesAndSendHeadMatchTheirDefinitions()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128]), c =>
        {
            RankData[] ranks = c.Build();
            DispatchHandle[] handles = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                return Dispatch(backend, ranks[group.Rank], c).Handle!;
            });
            int[,] rankPrefixMatrix = RoutingOracle.RankPrefixMatrix(ranks, c.NumExperts);
            for (int r = 0; r < c.NumRanks; r++)
            {
                bool[,] inRank = RoutingOracle.IsTokenInRank(ranks[r].TopkIdx, c.NumExperts, c.NumRanks);
                DispatchHandle handle = handles[r];
                Assert.Equal(c.NumChannels, handle.NumChannels);
                Assert.Equal(rankPrefixMatrix, HostTensors.To2D<int>(handle.RankPrefixMatrix));
                Assert.Equal(RoutingOracle.ChannelPrefixMatrix(inRank, c.NumChannels), HostTensors.To2D<int>(handle.ChannelPrefixMatrix));
                Assert.Equal(RoutingOracle.RecvChannelPrefixMatrix(ranks, c.NumExperts, r, c.NumChannels), HostTensors.To2D<int>(handle.RecvChannelPrefixMatrix));
                Assert.Equal(RoutingOracle.SendHead(inRank, c.NumChannels, afterCombine: false), HostTensors.To2D<int>(handle.SendHead));
            }
        });
    }

    [Fact]
    public void DispatchWithoutTopkSendsRowsAndReportsNoIndices()
    {
        Check.Sample(RoutingCase.Generator([2, 4], [256]), c =>
        {
            RankData[] ranks = c.Build();
            DispatchResult[] results = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = ranks[group.Rank];
                DispatchLayout layout = backend.GetDispatchLayout(HostTensors.From(me.TopkIdx), c.NumExperts, StreamOptions.Default);
                return backend.Dispatch(HostRequests.Dispatch(HostTensors.From(me.X, me.NumTokens, c.Hidden), null, layout, null, null, c.NumExperts, c.NumChannels));
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                Assert.Null(results[r].RecvTopkIdx);
                Assert.Null(results[r].RecvTopkWeights);
                Assert.Equal(RoutingOracle.ReceivedTokens(ranks, c.NumExperts, r).Count, results[r].RecvX.Size(0));
                Assert.Equal(RoutingOracle.RecvTokensPerExpert(ranks, c.NumExperts, r, 1), results[r].NumRecvTokensPerExpertList);
            }
        }, iter: 30);
    }

    [Fact]
    public void LayoutThatDisagreesWithIsTokenInRankFailsOnEveryRank()
    {
        var c = new RoutingCase(2, 4, 2, 128, 3, 6, RoutingPattern.Random, 11);
        RankData[] ranks = c.Build();
        var outcomes = RankThreads.Run(ProcessGroup.CreateInProcess(c.NumRanks), group =>
        {
            using var backend = new HostBackend(group);
            RankData me = ranks[group.Rank];
            DeviceTensor topkIdx = HostTensors.From(me.TopkIdx);
            DispatchLayout layout = backend.GetDispatchLayout(topkIdx, c.NumExperts, StreamOptions.Default);
            if (group.Rank == 1)
            {
                layout.NumTokensPerRank.At<int>(0) += 1;
            }
            return backend.Dispatch(HostRequests.Dispatch(
                HostTensors.From(me.X, me.NumTokens, c.Hidden), null, layout, topkIdx, HostTensors.From(me.TopkWeights), c.NumExperts, c.NumChannels));
        });
        var error = Assert.IsType<InvalidOperationException>(RankThreads.FirstOwnFailure(outcomes));
        Assert.Contains("rank(s) 1", error.Message);
    }

    internal static DispatchResult Dispatch(HostBackend backend, RankData me, RoutingCase c, int numWorstTokens = 0)
    {
        DeviceTensor topkIdx = HostTensors.From(me.TopkIdx);
        DispatchLayout layout = backend.GetDispatchLayout(topkIdx, c.NumExperts, StreamOptions.Default);
        return backend.Dispatch(HostRequests.Dispatch(
            HostTensors.From(me.X, me.NumTokens, c.Hidden), null, layout, topkIdx, HostTensors.From(me.TopkWeights),
            c.NumExperts, c.NumChannels, numWorstTokens: numWorstTokens));
    }

    private static DeviceTensor Widen(DeviceTensor int32Indices) =>
        DeviceTensor.FromArray<long>(Array.ConvertAll(int32Indices.ToArray<int>(), v => (long)v), [int32Indices.Size(0), int32Indices.Size(1)]);
}
