using DeepEP.Ep;
using DeepEP.Tests.Gpu.Normal;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>The NCCL backend against the CPU reference, ranks as threads of this process: every output and handle tensor byte-identical.</summary>
public sealed class NormalModeNcclTests
{
    [Theory]
    [MemberData(nameof(NormalModeKernelTests.Cases), MemberType = typeof(NormalModeKernelTests))]
    public void MatchesTheReference(int tokens, int hidden, int experts, int topk, int masked, int alignment)
    {
        BackendComparison.SkipWithoutTwoGpus();
        BackendComparison.MatchesReference(EpBackendKind.Nccl, new NormalCase(tokens, hidden, experts, topk, Seed: tokens + hidden, MaskedSlots: masked), alignment, numSms: 24, asyncFinish: false);
    }

    [Fact]
    public void AsyncFinishMatchesTheReference()
    {
        BackendComparison.SkipWithoutTwoGpus();
        BackendComparison.MatchesReference(EpBackendKind.Nccl, new NormalCase(256, 1024, 32, 4, Seed: 7), 1, numSms: 8, asyncFinish: true);
    }

    [Fact]
    public void AllTokensToOneExpertMatchTheReference()
    {
        BackendComparison.SkipWithoutTwoGpus();
        BackendComparison.MatchesReference(EpBackendKind.Nccl, new NormalCase(200, 512, 16, 3, Seed: 3, OnlyExpert: 5), 1, numSms: 4, asyncFinish: false);
    }
}
