using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// The kernels backend against the CPU reference at 2, 4 and 8 ranks as threads (sharing the visible GPUs
/// round-robin): every output and handle tensor must be byte-identical.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class NormalModeKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, string> Suite => GpuRanks.Cross(NormalCases.Suite.Keys);

    public static TheoryData<int, string> Shapes => GpuRanks.Cross(NormalCases.Shapes.Keys, ShapeCases.Counts);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(int ranks, string name)
    {
        gpu.Require();
        BackendComparison.MatchesReference(EpBackendKind.Kernels, ranks, NormalCases.Suite[name]);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Shapes))]
    public void ProductionShapesMatchTheReference(int ranks, string name)
    {
        gpu.Require();
        BackendComparison.MatchesReference(EpBackendKind.Kernels, ranks, NormalCases.Shapes[name]);
    }
}
