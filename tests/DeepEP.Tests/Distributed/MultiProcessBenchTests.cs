using DeepEP.Cli.Launch;

namespace DeepEP.Tests.Distributed;

/// <summary>One process per rank, end to end: `deepep launch` starts two `deepep bench` processes that meet over TCP.</summary>
public sealed class MultiProcessBenchTests
{
    [Fact]
    public async Task LaunchedProcessesDispatchAndCombineCorrectly()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "DeepEP.Cli.dll");
        var output = new StringWriter();
        var error = new StringWriter();
        var launcher = new RankLauncher(new LaunchOptions
        {
            Command = ["dotnet", cli, "bench", "--backend", "host", "--tokens", "48", "--ll-tokens", "6", "--hidden", "256", "--warmups", "0", "--iterations", "1"],
            ProcessesPerNode = 2,
        }, output, error);

        int exit = await launcher.RunAsync(TestContext.Current.CancellationToken);

        string log = output + Environment.NewLine + error;
        Assert.True(exit == 0, log);
        Assert.Contains("[rank 0] deepep bench backend host, 2 ranks", log);
        foreach (string operation in new[] { "dispatch FP8", "dispatch BF16", "combine BF16", "dispatch + combine" })
        {
            Assert.Contains(operation, log);
        }
        Assert.DoesNotContain("✗", log);
    }
}
