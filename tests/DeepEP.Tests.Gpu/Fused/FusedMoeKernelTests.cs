using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// <see cref="EpBuffer.FusedDeepMoe"/> on the kernels backend at 1, 2, 4 and 8 ranks (threads, GPUs round-robin)
/// against the host backend (<see cref="FusedMoeComparison"/>): BF16, Int8 and Fp8 weights, H 2048, I 1536, top-k 6
/// and 8, 0, 1 and odd token counts, masked slots.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class FusedMoeKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, string> Suite => GpuRanks.Cross(FusedMoeComparison.Cases.Keys, FusedMoeComparison.RankCounts);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Suite))]
    public void MatchesTheHostBackend(int ranks, string name)
    {
        gpu.Require();
        FusedMoeComparison.MatchesTheHost(EpBackendKind.Kernels, ranks, name);
    }
}
