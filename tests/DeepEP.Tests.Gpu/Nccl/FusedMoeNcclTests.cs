using DeepEP.Ep;
using DeepEP.Tests.Gpu.Fused;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// <see cref="EpBuffer.FusedDeepMoe"/> on the NCCL backend at one rank against the host backend
/// (<see cref="FusedMoeComparison"/>): NCCL's own low-latency dispatch and combine around the same GPU expert FFN.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class FusedMoeNcclTests(GpuFixture gpu)
{
    public static TheoryData<string> Suite => new(FusedMoeComparison.Cases.Keys);

    [Theory]
    [MemberData(nameof(Suite))]
    public void MatchesTheHostBackend(string name)
    {
        gpu.Require();
        FusedMoeComparison.MatchesTheHost(EpBackendKind.Nccl, 1, name);
    }
}
