using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>The kernels backend against the CPU reference: every output and handle tensor must be byte-identical.</summary>
public sealed class NormalModeKernelTests
{
    public static TheoryData<int, int, int, int, int, int> Cases => new()
    {
        // tokens, hidden, experts, topk, masked slots, alignment
        { 0, 2048, 16, 4, 0, 1 },
        { 1, 128, 8, 2, 0, 1 },
        { 37, 2048, 64, 6, 5, 4 },
        { 512, 7168, 256, 8, 0, 1 },
        { 1024, 4096, 32, 1, 20, 8 },
        { 300, 8192, 256, 9, 3, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(int tokens, int hidden, int experts, int topk, int masked, int alignment)
    {
        SkipWithoutPeers();
        Compare(new NormalCase(tokens, hidden, experts, topk, Seed: tokens + hidden, MaskedSlots: masked), alignment, numSms: 24, asyncFinish: false);
    }

    [Fact]
    public void AsyncFinishMatchesTheReference()
    {
        SkipWithoutPeers();
        Compare(new NormalCase(256, 1024, 32, 4, Seed: 7), 1, numSms: 8, asyncFinish: true);
    }

    [Fact]
    public void AllTokensToOneExpertMatchTheReference()
    {
        SkipWithoutPeers();
        Compare(new NormalCase(200, 512, 16, 3, Seed: 3, OnlyExpert: 5), 1, numSms: 4, asyncFinish: false);
    }

    private static void Compare(NormalCase c, int alignment, int numSms, bool asyncFinish) =>
        BackendComparison.MatchesReference(EpBackendKind.Kernels, c, alignment, numSms, asyncFinish);

    private static void SkipWithoutPeers() =>
        Assert.SkipUnless(CudaDevice.IsAvailable && CudaDevice.Count >= 2, "Needs at least two GPUs with peer access.");
}
