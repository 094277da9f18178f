using DeepEP.Ep;
using DeepEP.Tests.Gpu.LowLatency;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// The NCCL backend's low-latency mode against the CPU reference, ranks as threads of this process: counts, ranges,
/// statistics, valid rows, scales, source indices and combined outputs byte-identical (same packing order).
/// </summary>
public sealed class LowLatencyNcclTests
{
    [Theory]
    [MemberData(nameof(LowLatencyKernelTests.Cases), MemberType = typeof(LowLatencyKernelTests))]
    public void MatchesTheReference(LowLatencyCase c) => LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, c);

    [Fact]
    public void AMaskedRankIsLeftOutAsInTheReference()
    {
        var c = new LowLatencyCase(Tokens: 32, MaxTokens: 32, Hidden: 1024, Experts: 16, Topk: 4, MaskedSlots: 3, UseFp8: true, Hook: true);
        LowLatencyComparison.MatchesReference(EpBackendKind.Nccl, c, b =>
        {
            if (b.Rank == 0)
            {
                b.LowLatencyUpdateMaskBuffer(b.GroupSize - 1, mask: true);
            }
        });
    }

    [Fact]
    public void AThirdOutstandingHookIsRefused() => LowLatencyKernelTests.ThirdOutstandingHookIsRefused(EpBackendKind.Nccl);
}
