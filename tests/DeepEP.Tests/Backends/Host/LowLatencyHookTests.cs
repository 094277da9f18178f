using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Receive hooks and the two low-latency buffer sets (spec §5.2, §5.3 streams).</summary>
public sealed class LowLatencyHookTests
{
    private static readonly RoutingCase Case = new(4, 3, 4, 256, 1, 6, RoutingPattern.Random, 2024);

    [Fact]
    public void HookCompletesTheReceiveLaterAndMatchesTheDirectResult()
    {
        OnEveryRank((backend, me, maxTokens, rank) =>
        {
            var stats = DeviceTensor.Zeros(DType.Int32, [Case.NumLocalExperts]);
            LowLatencyDispatchResult hooked = LowLatencyRun.Dispatch(backend, me, Case, maxTokens, stats, returnRecvHook: true);
            LowLatencyDispatchResult direct = LowLatencyRun.Dispatch(backend, me, Case, maxTokens);
            Assert.Null(direct.Hook);
            Assert.All(stats.ToArray<int>(), n => Assert.Equal(0, n));
            hooked.Hook!();
            Assert.Equal(direct.PackedRecvCount.ToArray<int>(), hooked.PackedRecvCount.ToArray<int>());
            Assert.Equal(direct.PackedRecvCount.ToArray<int>(), stats.ToArray<int>());
            Assert.Equal(direct.Handle.PackedRecvLayoutRange.ToArray<long>(), hooked.Handle.PackedRecvLayoutRange.ToArray<long>());
            AssertValidRowsEqual(direct, hooked);
            Assert.Throws<InvalidOperationException>(hooked.Hook!);

            LowLatencyCombineResult hookedCombine = backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                LowLatencyRun.ExpertOutputs(direct, rank), HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), direct.Handle, returnRecvHook: true));
            hookedCombine.Hook!();
            LowLatencyCombineTests.CheckCombined(me, Case, new bool[Case.NumRanks], hookedCombine.CombinedX);
        });
    }

    [Fact]
    public void AThirdOutstandingOperationFailsUntilAHookRuns()
    {
        OnEveryRank((backend, me, maxTokens, rank) =>
        {
            LowLatencyDispatchResult first = LowLatencyRun.Dispatch(backend, me, Case, maxTokens, returnRecvHook: true);
            LowLatencyDispatchResult second = LowLatencyRun.Dispatch(backend, me, Case, maxTokens, returnRecvHook: true);
            var error = Assert.Throws<InvalidOperationException>(() => LowLatencyRun.Dispatch(backend, me, Case, maxTokens));
            Assert.Contains("at most two", error.Message);
            first.Hook!();
            LowLatencyDispatchResult third = LowLatencyRun.Dispatch(backend, me, Case, maxTokens);
            second.Hook!();
            AssertValidRowsEqual(third, second);
        });
    }

    [Fact]
    public void CleanDiscardsPendingHooks()
    {
        OnEveryRank((backend, me, maxTokens, rank) =>
        {
            LowLatencyDispatchResult pending = LowLatencyRun.Dispatch(backend, me, Case, maxTokens, returnRecvHook: true);
            backend.CleanLowLatencyBuffer(maxTokens, Case.Hidden, Case.NumExperts, StreamOptions.Default);
            Assert.Throws<InvalidOperationException>(pending.Hook!);
            LowLatencyRun.Dispatch(backend, me, Case, maxTokens, returnRecvHook: true);
            LowLatencyRun.Dispatch(backend, me, Case, maxTokens, returnRecvHook: true);
        });
    }

    [Fact]
    public void EveryCallFlipsTheBufferSetTheNextCombineBufferComesFrom()
    {
        OnEveryRank((backend, me, maxTokens, rank) =>
        {
            LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, Case, maxTokens);
            DeviceTensor setOne = backend.GetNextLowLatencyCombineBuffer(dispatched.Handle);
            int slot = Case.Hidden + (2 * (Case.Hidden / 128));
            Assert.Equal([(long)Case.NumRanks * maxTokens * slot, slot, 1], setOne.Strides.ToArray());
            Assert.Equal(setOne.Pointer, backend.GetNextLowLatencyCombineBuffer(dispatched.Handle).Pointer);
            LowLatencyRun.WriteExpertOutputs(dispatched, rank, setOne);
            LowLatencyCombineResult combined = backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                DeviceTensor.Empty(DType.BFloat16, dispatched.PackedRecvX.Shape), HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle, zeroCopy: true));
            LowLatencyCombineTests.CheckCombined(me, Case, new bool[Case.NumRanks], combined.CombinedX);

            DeviceTensor setZero = backend.GetNextLowLatencyCombineBuffer(dispatched.Handle);
            Assert.NotEqual(setOne.Pointer, setZero.Pointer);
            LowLatencyRun.Dispatch(backend, me, Case, maxTokens);
            Assert.Equal(setOne.Pointer, backend.GetNextLowLatencyCombineBuffer(dispatched.Handle).Pointer);
        });
    }

    [Fact]
    public void ZeroCopyWithoutRequestingTheBufferFails()
    {
        OnEveryRank((backend, me, maxTokens, rank) =>
        {
            LowLatencyDispatchResult dispatched = LowLatencyRun.Dispatch(backend, me, Case, maxTokens);
            Assert.Throws<InvalidOperationException>(() => backend.LowLatencyCombine(HostRequests.LowLatencyCombine(
                dispatched.PackedRecvX, HostTensors.From(me.TopkIdx), HostTensors.From(me.TopkWeights), dispatched.Handle, zeroCopy: true)));
        });
    }

    // Runs body on every rank of Case as threads, each with its own host backend, its rank's data and the N that fits all.
    private static void OnEveryRank(Action<HostBackend, RankData, int, int> body)
    {
        RankData[] ranks = Case.Build();
        int maxTokens = LowLatencyRun.MaxTokensPerRank(ranks);
        RankThreads.RunInProcess(Case.NumRanks, group =>
        {
            using var backend = new HostBackend(group);
            body(backend, ranks[group.Rank], maxTokens, group.Rank);
            return 0;
        });
    }

    private static void AssertValidRowsEqual(LowLatencyDispatchResult expected, LowLatencyDispatchResult actual)
    {
        int[] counts = expected.PackedRecvCount.ToArray<int>();
        for (int e = 0; e < counts.Length; e++)
        {
            for (int row = 0; row < counts[e]; row++)
            {
                Assert.Equal(expected.Handle.PackedRecvSrcInfo.At<int>(e, row), actual.Handle.PackedRecvSrcInfo.At<int>(e, row));
                Assert.True(HostTensorAccess.Row<BFloat16>(expected.PackedRecvX, e, row).SequenceEqual(HostTensorAccess.Row<BFloat16>(actual.PackedRecvX, e, row)));
            }
        }
    }
}
