using DeepEP.Ep;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>V2's expanded layout on the NCCL backend (one rank per visible GPU) against the CPU reference, byte for byte.</summary>
[Collection(GpuCollection.Name)]
public sealed class ExpandedLayoutNcclTests(GpuFixture gpu)
{
    public static TheoryData<string> Suite => new(ExpandedLayoutKernelTests.Cases);

    [Theory]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(string name)
    {
        gpu.Require();
        BackendComparison.MatchesReference(EpBackendKind.Nccl, gpu.DeviceCount, NormalCases.Suite[name], ExpandedScenario.Run);
    }
}
