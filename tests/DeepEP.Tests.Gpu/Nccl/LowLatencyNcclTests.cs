using DeepEP.Ep;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// The NCCL backend's low-latency mode against the CPU reference, one rank per visible GPU as threads of this
/// process: counts, ranges, statistics, valid rows, scales, source indices and combined outputs byte-identical (same
/// packing order).
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class LowLatencyNcclTests(GpuFixture gpu)
{
    public static TheoryData<string> Suite => new(LowLatencyCases.Suite.Keys);

    public static TheoryData<string> LogFmt => new(LowLatencyCases.LogFmt.Keys);

    [Theory]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(string name)
    {
        LowLatencyCase c = LowLatencyCases.Suite[name];
        gpu.Require(c.SharedExpertRanks + 1, "Shared-expert ranks need routed-expert ranks beside them, and NCCL allows one rank per GPU: needs more GPUs.");
        LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, gpu.DeviceCount, c);
    }

    /// <summary>LogFMT-10 combine: each row encoded into its slot before NCCL moves it, decoded before the reduction, the host's bits.</summary>
    [Theory]
    [MemberData(nameof(LogFmt))]
    public void LogFmtMatchesTheReference(string name)
    {
        gpu.Require();
        LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, gpu.DeviceCount, LowLatencyCases.LogFmt[name]);
    }

    [Fact]
    public void AMaskedRankIsLeftOutAsInTheReference()
    {
        gpu.Require(2, "Masking needs a second rank, and NCCL allows one rank per GPU: needs two GPUs.");
        int ranks = gpu.DeviceCount;
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
    public void AThirdOutstandingHookIsRefused()
    {
        gpu.Require();
        LowLatencyKernelTests.ThirdOutstandingHookIsRefused(EpBackendKind.Nccl, gpu.DeviceCount);
    }
}
