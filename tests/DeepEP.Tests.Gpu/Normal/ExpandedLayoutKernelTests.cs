using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// V2's expanded layout on the kernels backend (the expansion kernels after the NVLink dispatch, before the combine)
/// against the CPU reference at 2, 4 and 8 ranks: every expanded row, map, count and combined output byte-identical.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class ExpandedLayoutKernelTests(GpuFixture gpu)
{
    /// <summary>The normal suite's cases except the two largest (the scenario dispatches five times).</summary>
    public static readonly string[] Cases =
        ["t0-h2048-e16-k4", "t1-h128-e8-k2", "t37-h2048-e64-k6-masked-align4", "t1024-h4096-e32-k1-masked-align8", "t256-h1024-e32-k4-async", "t200-h512-e16-k3-one-expert"];

    public static TheoryData<int, string> Suite => GpuRanks.Cross(Cases);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(int ranks, string name)
    {
        gpu.Require();
        BackendComparison.MatchesReference(EpBackendKind.Kernels, ranks, NormalCases.Suite[name], ExpandedScenario.Run);
    }
}
