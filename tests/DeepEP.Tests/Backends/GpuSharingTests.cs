using DeepEP.Backends;
using DeepEP.Backends.Kernels;
using DeepEP.Backends.Nccl;
using DeepEP.Cli.Bench;

namespace DeepEP.Tests.Backends;

/// <summary>Several ranks on one GPU: how SMs are split, what NCCL is told, where bench puts ranks (no GPU needed).</summary>
public sealed class GpuSharingTests
{
    private static readonly Guid Gpu0 = Guid.NewGuid();
    private static readonly Guid Gpu1 = Guid.NewGuid();

    [Fact]
    public void IdentitiesSurviveTheWire()
    {
        var identity = new RankIdentity("host/42", Gpu0, 3, 132);
        Assert.Equal(identity, RankIdentity.FromBytes(identity.ToBytes()));
    }

    [Theory]
    [InlineData(1, 132)]
    [InlineData(2, 66)]
    [InlineData(8, 16)]
    public void RanksOnOneGpuSplitItsSms(int ranks, int budget)
    {
        RankIdentity[] identities = Enumerable.Range(0, ranks).Select(r => new RankIdentity("host/1", Gpu0, 0, 132)).ToArray();
        (int onGpu, int sms) = PeerMesh.FindBusiestGpu(identities);
        Assert.Equal((ranks, 132), (onGpu, sms));
        Assert.Equal(budget, sms / onGpu);
    }

    [Fact]
    public void TheBusiestGpuSetsTheBudgetForEveryRank()
    {
        // Three ranks on two GPUs: two share cuda:0, one has cuda:1; every rank gets the smaller share.
        RankIdentity[] identities = [new("p/1", Gpu0, 0, 132), new("p/2", Gpu1, 1, 132), new("p/3", Gpu0, 0, 132)];
        Assert.Equal((2, 132), PeerMesh.FindBusiestGpu(identities));
    }

    [Fact]
    public void MoreRanksThanSmsAreRefused()
    {
        RankIdentity[] identities = Enumerable.Range(0, 3).Select(r => new RankIdentity("host/1", Gpu0, 0, 2)).ToArray();
        var e = Assert.Throws<NotSupportedException>(() => PeerMesh.FindBusiestGpu(identities));
        Assert.Contains("3 ranks share a GPU of 2 SMs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnSmCountTheSharedGpuCannotHoldIsRefusedByName()
    {
        PeerMesh.CheckSmBudget(16, (8, 132));
        PeerMesh.CheckSmBudget(132, (1, 132));
        var e = Assert.Throws<ArgumentException>(() => PeerMesh.CheckSmBudget(20, (8, 132)));
        Assert.Equal("config", e.ParamName);
        Assert.Contains("8 ranks share a GPU of 132 SMs and would ask for 160 at once", e.Message, StringComparison.Ordinal);
        Assert.Contains("NumSms <= 16", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NcclNamesTheRanksThatShareAGpuAndTheFix()
    {
        RankIdentity[] identities = [new("p/1", Gpu0, 0, 132), new("p/2", Gpu1, 1, 132), new("p/3", Gpu0, 0, 132)];
        var e = Assert.Throws<NotSupportedException>(() => NcclBackend.RequireOneRankPerGpu(identities));
        Assert.Contains("ranks 0, 2 share cuda:0", e.Message, StringComparison.Ordinal);
        Assert.Contains("DEEPEP_BACKEND=kernels", e.Message, StringComparison.Ordinal);
        NcclBackend.RequireOneRankPerGpu(identities[..2]);
    }

    [Theory]
    [InlineData(2, 1, 24)]
    [InlineData(4, 1, 32)]
    [InlineData(8, 1, 16)]
    [InlineData(8, 2, 32)]
    [InlineData(2, 2, 24)]
    public void BenchDefaultsToAnEvenShareOfSharedGpus(int ranks, int devices, int expected)
    {
        int sms = RankPlacement.Sms(ranks, devices, 132);
        Assert.Equal(Math.Min(expected, RankPlacement.DefaultSms), sms);
        Assert.Equal(0, sms % 2);
    }

    [Fact]
    public void BenchPlacesRanksRoundRobinAndSaysWhenTheyShare()
    {
        Assert.Equal(["cuda:0 ← ranks 0, 2, 4", "cuda:1 ← ranks 1, 3"], RankPlacement.Describe(5, 2));
        Assert.Equal(["cuda:0 ← rank 0", "cuda:1 ← rank 1"], RankPlacement.Describe(2, 2));
        Assert.Null(RankPlacement.SharedGpuCaveat(2, 2));
        Assert.Contains("not NVLink figures", RankPlacement.SharedGpuCaveat(8, 1), StringComparison.Ordinal);
    }
}
