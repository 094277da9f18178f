using DeepEP.Cli.Launch;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Nccl;

/// <summary>
/// One process per GPU: <c>deepep launch</c> starts two <c>deepep bench --backend nccl</c> ranks (normal and
/// low-latency mode), which check every result. The second test emulates two nodes on one machine (a host id per rank, no peer-to-peer or
/// shared-memory transport), so NCCL must use its network transport, and proves it from NCCL's own log.
/// </summary>
public sealed class NcclProcessTests
{
    private static readonly string[] Bench =
        ["bench", "--backend", "nccl", "--mode", "all", "--tokens", "512", "--ll-tokens", "32", "--hidden", "2048", "--warmups", "1", "--iterations", "3"];

    [Fact]
    public async Task LaunchedProcessesMatchTheReference()
    {
        Assert.SkipWhen(GpuRanks.NcclRanks < 2, "Two NCCL processes need two GPUs: NCCL allows one rank per GPU.");
        string log = await LaunchAsync([Cli(), .. Bench]);
        Assert.Contains("[rank 0] deepep bench backend nccl, 2 ranks", log);
    }

    [Fact]
    public async Task EmulatedTwoNodesUseTheNetworkTransport()
    {
        Assert.SkipWhen(GpuRanks.NcclRanks < 2, "Two NCCL processes need two GPUs: NCCL allows one rank per GPU.");
        // A distinct NCCL_HOSTID per rank makes NCCL see two hosts; with P2P and SHM off only NET remains.
        string log = await LaunchAsync(["sh", "-c",
            "NCCL_HOSTID=emulated-node-$RANK NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_IB_DISABLE=1 NCCL_NET=Socket NCCL_DEBUG=INFO exec \"$0\" \"$@\"",
            Cli(), .. Bench]);
        string? line = log.Split('\n').FirstOrDefault(l => l.Contains("via NET/Socket", StringComparison.Ordinal));
        Assert.True(line is not null, "No NCCL channel went through NET/Socket:\n" + log);
        TestContext.Current.TestOutputHelper?.WriteLine(line.Trim());
    }

    private static async Task<string> LaunchAsync(IReadOnlyList<string> command)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var launcher = new RankLauncher(new LaunchOptions { Command = command, ProcessesPerNode = 2 }, output, error);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(4));
        int exit = await launcher.RunAsync(deadline.Token);
        string log = output + Environment.NewLine + error;
        Assert.True(exit == 0, log);
        Assert.DoesNotContain("│ NO ", log);
        return log;
    }

    // The published bundle has the CLI's own executable beside this one; a plain build has only its dll.
    private static string Cli()
    {
        string executable = Path.Combine(AppContext.BaseDirectory, "DeepEP.Cli");
        Assert.SkipUnless(File.Exists(executable), $"The deepep executable is not beside the tests ({executable}); run the published bundle (scripts/publish-device.sh).");
        return executable;
    }
}
