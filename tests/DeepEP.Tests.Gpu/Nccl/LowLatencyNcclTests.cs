using DeepEP.Ep;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// The NCCL backend's low-latency mode against the CPU reference, one rank per visible GPU as threads of this
/// process: counts, ranges, statistics, valid rows, scales, source indices and combined outputs byte-identical (same
/// packing order).
/// </summary>
public sealed class LowLatencyNcclTests
{
    public static TheoryData<string> Suite => new(LowLatencyCases.Suite.Keys);

    [Theory]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(string name) => LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, GpuRanks.NcclRanks, LowLatencyCases.Suite[name]);

    [Fact]
    public void AMaskedRankIsLeftOutAsInTheReference()
    {
        int ranks = GpuRanks.NcclRanks;
        Assert.SkipWhen(ranks < 2, "Masking needs a second rank, and NCCL allows one rank per GPU: needs two GPUs.");
        var c = new LowLatencyCase(Tokens: 32, MaxTokens: 32, Hidden: 1024, Experts: 16, Topk: 4, MaskedSlots: 3, UseFp8: true, Hook: true);
        LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, ranks, c, b =>
        {
            if (b.Rank == 0)
            {
                b.LowLatencyUpdateMaskBuffer(b.GroupSize - 1, mask: true);
            }
        });
    }

    [Fact]
    public void AThirdOutstandingHookIsRefused() => LowLatencyKernelTests.ThirdOutstandingHookIsRefused(EpBackendKind.Nccl, GpuRanks.NcclRanks);
}
