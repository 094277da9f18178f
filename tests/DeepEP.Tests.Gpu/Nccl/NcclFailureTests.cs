using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Normal;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>A rank that never shows up ends in an exception naming the rank and the step, never a hang; bad routing fails every rank together.</summary>
public sealed class NcclFailureTests
{
    [Fact]
    public void AMissingPeerTimesOutNamingTheStep()
    {
        BackendComparison.SkipWithoutTwoGpus();
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(2);
        var buffers = new EpBuffer[2];
        Parallel.For(0, 2, r => buffers[r] = new EpBuffer(groups[r], 1L << 28,
            options: new EpBufferOptions { Backend = EpBackendKind.Nccl, Device = r, Timeout = TimeSpan.FromSeconds(3) }));

        // Rank 1 never dispatches: rank 0's count exchange cannot finish and must be aborted at the deadline.
        using DeviceTensor topk = DeviceTensor.FromArray<long>([0, 1, 2, 3], [2, 2], device: 0);
        using DeviceTensor x = DeviceTensor.Zeros(DType.BFloat16, [2, 128], device: 0);
        using DispatchLayout layout = buffers[0].GetDispatchLayout(topk, 4);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<CommunicationTimeoutException>(() => buffers[0].Dispatch(x, numTokensPerRank: layout.NumTokensPerRank,
            isTokenInRank: layout.IsTokenInRank, numTokensPerExpert: layout.NumTokensPerExpert));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"gave up after {started.Elapsed}");
        Assert.Equal(0, e.Rank);
        Assert.Contains("count exchange", e.Message);
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        // Later calls say the communicator was aborted instead of hanging.
        var again = Assert.Throws<InvalidOperationException>(() => buffers[0].Dispatch(x, numTokensPerRank: layout.NumTokensPerRank,
            isTokenInRank: layout.IsTokenInRank, numTokensPerExpert: layout.NumTokensPerExpert));
        Assert.Contains("aborted", again.Message);
    }

    [Fact]
    public void TooFewWorstTokensFailOnEveryRank()
    {
        BackendComparison.SkipWithoutTwoGpus();
        var c = new NormalCase(64, 256, 8, 2, Seed: 11);
        Exception e = Assert.Throws<AggregateException>(() => RankHarness.Run(2, EpBackendKind.Nccl, 1L << 28, buffer =>
        {
            RankInputs inputs = c.For(buffer.Rank);
            using DeviceTensor x = inputs.XOn(buffer.Device);
            using DeviceTensor topk = inputs.TopkOn(buffer.Device);
            using DeviceTensor weights = inputs.WeightsOn(buffer.Device);
            using DispatchLayout layout = buffer.GetDispatchLayout(topk, c.Experts);
            return buffer.Dispatch(x, numTokensPerRank: layout.NumTokensPerRank, isTokenInRank: layout.IsTokenInRank,
                numTokensPerExpert: layout.NumTokensPerExpert, topkIdx: topk, topkWeights: weights, numWorstTokens: 1);
        }));
        var failures = ((AggregateException)e).InnerExceptions;
        Assert.Equal(2, failures.Count);
        Assert.All(failures, f => Assert.Contains("numWorstTokens", f.Message));
    }
}
