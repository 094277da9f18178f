using CsCheck;
using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Masking / shrink (spec §5.6): masked ranks contribute nothing and their experts are skipped in combine.</summary>
public sealed class LowLatencyMaskTests
{
    [Fact]
    public void MaskedRanksContributeNothingUntilTheMaskIsCleared()
    {
        Check.Sample(RoutingCase.Generator([2, 4, 8], [128]), c =>
        {
            RankData[] ranks = c.Build();
            int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
            int maskedRank = Math.Abs(c.Seed % c.NumRanks);
            bool[] masked = [.. Enumerable.Range(0, c.NumRanks).Select(s => s == maskedRank)];
            Outputs[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group, enableShrink: true);
                RankData me = ranks[group.Rank];
                backend.UpdateMaskBuffer(maskedRank, mask: true, StreamOptions.Default);
                var status = DeviceTensor.Zeros(DType.Int32, [c.NumRanks]);
                backend.QueryMaskBuffer(status, StreamOptions.Default);
                LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, c, maxTokens);
                LowLatencyCombineResult combined = backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                    LowLatencyRun.ExpertOutputs(dispatched, group.Rank), HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle));
                backend.CleanMaskBuffer(StreamOptions.Default);
                var cleared = DeviceTensor.Zeros(DType.Int32, [c.NumRanks]);
                backend.QueryMaskBuffer(cleared, StreamOptions.Default);
                LowLatencyDispatchResult unmasked = LowLatencyRun.Dispatch(backend, me, c, maxTokens);
                return new Outputs(status.ToArray<int>(), cleared.ToArray<int>(), dispatched, combined, unmasked);
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                Outputs o = outputs[r];
                Assert.Equal(masked.Select(m => m ? 1 : 0), o.Status);
                Assert.All(o.Cleared, m => Assert.Equal(0, m));
                // Everyone ignores the masked rank; it hears from nobody, so (as after GPU timeouts) it masks everyone.
                bool[] view = r == maskedRank ? [.. masked.Select(_ => true)] : masked;
                Assert.Equal(RoutingOracle.LowLatencyCounts(ranks, c.NumExperts, r, view), o.Dispatched.PackedRecvCount.ToArray<int>());
                for (int e = 0; e < c.NumLocalExperts; e++)
                {
                    Assert.Equal(0, o.Dispatched.Handle.PackedRecvLayoutRange.At<long>(e, maskedRank) & 0xFFFFFFFF);
                }
                LowLatencyCombineTests.CheckCombined(ranks[r], c, view, o.Combined.CombinedX);
                Assert.Equal(RoutingOracle.LowLatencyCounts(ranks, c.NumExperts, r, new bool[c.NumRanks]), o.Unmasked.PackedRecvCount.ToArray<int>());
            }
        }, iter: 40);
    }

    [Fact]
    public void MaskBufferNeedsShrinkMode()
    {
        RankThreads.RunInProcess(2, group =>
        {
            using var backend = new HostBackend(group);
            Assert.Throws<InvalidOperationException>(() => backend.UpdateMaskBuffer(1, mask: true, StreamOptions.Default));
            Assert.Throws<InvalidOperationException>(() => backend.QueryMaskBuffer(DeviceTensor.Zeros(DType.Int32, [2]), StreamOptions.Default));
            return 0;
        });
    }

    private sealed record Outputs(int[] Status, int[] Cleared, LowLatencyDispatchResult Dispatched, LowLatencyCombineResult Combined, LowLatencyDispatchResult Unmasked);
}
