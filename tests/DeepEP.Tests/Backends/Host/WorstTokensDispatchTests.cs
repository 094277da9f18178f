using CsCheck;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Dispatch with <c>numWorstTokens</c> (spec §2.6): fixed-size outputs whose leading rows equal a normal dispatch.</summary>
public sealed class WorstTokensDispatchTests
{
    [Fact]
    public void LeadingRowsEqualANormalDispatchAndTheTailHasNoExperts()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 256]), c =>
        {
            RankData[] ranks = c.Build();
            int numWorstTokens = ranks.Sum(rank => rank.NumTokens) + 1;
            Outputs[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                DispatchResult normal = NormalDispatchTests.Dispatch(backend, ranks[group.Rank], c);
                DispatchResult worst = NormalDispatchTests.Dispatch(backend, ranks[group.Rank], c, numWorstTokens);
                CombineResult normalCombined = backend.Combine(HostRequests.Combine(normal.RecvX, normal.Handle!, normal.RecvTopkWeights));
                CombineResult worstCombined = backend.Combine(HostRequests.Combine(worst.RecvX, worst.Handle!, worst.RecvTopkWeights));
                DispatchResult cached = backend.Dispatch(HostRequests.CachedDispatch(
                    HostTensors.From(ranks[group.Rank].X, ranks[group.Rank].NumTokens, c.Hidden), null, worst.Handle!, c.NumExperts));
                return new Outputs(normal, worst, cached, normalCombined, worstCombined);
            });
            foreach (Outputs o in outputs)
            {
                int numRealRows = checked((int)o.Normal.RecvX.Size(0));
                Assert.Empty(o.Worst.NumRecvTokensPerExpertList);
                Assert.Equal(numWorstTokens, o.Worst.RecvX.Size(0));
                Assert.Equal(numWorstTokens, o.Worst.Handle!.NumRecvTokens);
                Assert.Equal(numWorstTokens, o.Cached.RecvX.Size(0));
                Assert.Equal(Leading<BFloat16>(o.Normal.RecvX, numRealRows), Leading<BFloat16>(o.Worst.RecvX, numRealRows));
                Assert.Equal(Leading<BFloat16>(o.Normal.RecvX, numRealRows), Leading<BFloat16>(o.Cached.RecvX, numRealRows));
                Assert.Equal(Leading<float>(o.Normal.RecvTopkWeights!, numRealRows), Leading<float>(o.Worst.RecvTopkWeights!, numRealRows));
                Assert.Equal(Leading<int>(o.Normal.Handle!.RecvSrcIdx, numRealRows), Leading<int>(o.Worst.Handle.RecvSrcIdx, numRealRows));
                long[] worstIdx = o.Worst.RecvTopkIdx!.ToArray<long>();
                Assert.Equal(o.Normal.RecvTopkIdx!.ToArray<long>(), worstIdx[..(numRealRows * c.NumTopk)]);
                Assert.All(worstIdx[(numRealRows * c.NumTopk)..], index => Assert.Equal(-1, index));
                Assert.Equal(o.NormalCombined.CombinedX.ToArray<BFloat16>(), o.WorstCombined.CombinedX.ToArray<BFloat16>());
                Assert.Equal(o.NormalCombined.CombinedTopkWeights!.ToArray<float>(), o.WorstCombined.CombinedTopkWeights!.ToArray<float>());
            }
        }, iter: 60);
    }

    private static T[] Leading<T>(DeviceTensor tensor, int rows)
        where T : unmanaged => tensor.Slice(0, rows).ToArray<T>();

    private sealed record Outputs(DispatchResult Normal, DispatchResult Worst, DispatchResult Cached, CombineResult NormalCombined, CombineResult WorstCombined);
}
