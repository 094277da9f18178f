using DeepEP.Tests.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// One process per GPU: the launcher starts two <c>deepep bench --backend nccl</c> ranks (normal and
/// low-latency mode), which check every result. The second test emulates two nodes on one machine (a host id per rank, no peer-to-peer or
/// shared-memory transport), so NCCL must use its network transport, and proves it from NCCL's own log.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class NcclProcessTests(GpuFixture gpu)
{
    private static readonly string[] Bench =
        ["bench", "--backend", "nccl", "--mode", "all", "--tokens", "512", "--ll-tokens", "32", "--hidden", "2048", "--warmups", "1", "--iterations", "3"];

    [Fact]
    public async Task LaunchedProcessesMatchTheReference()
    {
        gpu.Require(2, "Two NCCL processes need two GPUs: NCCL allows one rank per GPU.");
        string log = await LaunchAsync(LaunchedRanks.Cli(Bench));
        Assert.Contains("[rank 0] deepep bench backend nccl, 2 ranks", log);
    }

    [Fact]
    public async Task EmulatedTwoNodesUseTheNetworkTransport()
    {
        gpu.Require(2, "Two NCCL processes need two GPUs: NCCL allows one rank per GPU.");
        // A distinct NCCL_HOSTID per rank makes NCCL see two hosts; with P2P and SHM off only NET remains.
        string log = await LaunchAsync(["sh", "-c",
            "NCCL_HOSTID=emulated-node-$RANK NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_IB_DISABLE=1 NCCL_NET=Socket NCCL_DEBUG=INFO exec \"$0\" \"$@\"",
            .. LaunchedRanks.Cli(Bench)]);
        string? line = log.Split('\n').FirstOrDefault(l => l.Contains("via NET/Socket", StringComparison.Ordinal));
        Assert.True(line is not null, "No NCCL channel went through NET/Socket:\n" + log);
        TestContext.Current.TestOutputHelper?.WriteLine(line.Trim());
    }

    private static async Task<string> LaunchAsync(IReadOnlyList<string> command)
    {
        string log = await LaunchedRanks.RunAsync(2, command);
        Assert.DoesNotContain("│ NO ", log);
        return log;
    }
}
