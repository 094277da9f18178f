using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>A rank that never shows up ends in a CommunicationTimeoutException on the others, never a hang.</summary>
[Collection(GpuCollection.Name)]
public sealed class KernelTimeoutTests(GpuFixture gpu)
{
    [Fact]
    public void AMissingPeerTimesOutWithItsName()
    {
        gpu.Require();
        // Rank 1 never dispatches: rank 0's count exchange waits for it at the barrier and must give up.
        Func<DispatchResult> dispatch = LonelyRank.DispatchOnRankZero(EpBackendKind.Kernels, TimeSpan.FromSeconds(2));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<CommunicationTimeoutException>(dispatch);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"gave up after {started.Elapsed}");
        Assert.Equal(0, e.Rank);
        Assert.Equal(1, e.PeerRank);
        Assert.Contains("rank 1", e.Message);
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
    }
}
