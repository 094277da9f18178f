using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>A rank that never shows up ends in an exception naming the rank and the step, never a hang; bad routing fails every rank together.</summary>
[Collection(GpuCollection.Name)]
public sealed class NcclFailureTests(GpuFixture gpu)
{
    [Fact]
    public void AMissingPeerTimesOutNamingTheStep()
    {
        gpu.Require(2, "A missing NCCL peer needs a second rank, and NCCL allows one rank per GPU: needs two GPUs.");
        // Rank 1 never dispatches: rank 0's count exchange cannot finish and must be aborted at the deadline.
        Func<DispatchResult> dispatch = LonelyRank.DispatchOnRankZero(EpBackendKind.Nccl, TimeSpan.FromSeconds(3));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<CommunicationTimeoutException>(dispatch);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"gave up after {started.Elapsed}");
        Assert.Equal(0, e.Rank);
        Assert.Contains("count exchange", e.Message);
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        // Later calls say the communicator was aborted instead of hanging.
        var again = Assert.Throws<InvalidOperationException>(dispatch);
        Assert.Contains("aborted", again.Message);
    }

    [Fact]
    public void TooFewWorstTokensFailOnEveryRank()
    {
        gpu.Require();
        int ranks = gpu.DeviceCount;
        var c = new NormalCase(64, 256, 8, 2, Seed: 11);
        Exception e = Assert.Throws<AggregateException>(() => RankHarness.Run(ranks, EpBackendKind.Nccl, nvlBytes: 1L << 28, body: buffer =>
        {
            RankInputs inputs = c.For(buffer.Rank);
            using DeviceTensor x = inputs.XOn(buffer.Device);
            using DeviceTensor topk = inputs.TopkOn(buffer.Device);
            using DeviceTensor weights = inputs.WeightsOn(buffer.Device);
            using DispatchLayout layout = buffer.GetDispatchLayout(topk, c.Experts);
            return buffer.Dispatch(x, layout, topkIdx: topk, topkWeights: weights, numWorstTokens: 1);
        }));
        var failures = ((AggregateException)e).InnerExceptions;
        Assert.Equal(ranks, failures.Count);
        Assert.All(failures, f => Assert.Contains("numWorstTokens", f.Message));
    }
}
