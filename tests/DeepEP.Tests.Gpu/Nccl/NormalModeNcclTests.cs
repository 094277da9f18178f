using DeepEP.Ep;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// The NCCL backend against the CPU reference, one rank per visible GPU as threads of this process (one rank alone on
/// a one-GPU machine: NCCL refuses two ranks on one GPU): every output and handle tensor byte-identical.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class NormalModeNcclTests(GpuFixture gpu)
{
    public static TheoryData<string> Suite => new(NormalCases.Suite.Keys);

    [Theory]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(string name)
    {
        gpu.Require();
        BackendComparison.MatchesReference(EpBackendKind.Nccl, gpu.DeviceCount, NormalCases.Suite[name]);
    }

    [Fact]
    public void TwoRanksOnOneGpuAreRefusedBeforeNcclIsAsked()
    {
        gpu.Require();
        var failure = Assert.Throws<AggregateException>(() => RankHarness.Run(2, EpBackendKind.Nccl,
            (g, _) => new EpBuffer(g, 1L << 20, options: new EpBufferOptions { Backend = EpBackendKind.Nccl, Device = 0 }), b => b.Rank));
        Assert.Equal(2, failure.InnerExceptions.Count);
        Assert.All(failure.InnerExceptions, e =>
        {
            Assert.IsType<NotSupportedException>(e);
            Assert.Contains("one GPU per rank", e.Message, StringComparison.Ordinal);
            Assert.Contains("ranks 0, 1 share", e.Message, StringComparison.Ordinal);
        });
    }
}
