using DeepEP.Tests.Support;

namespace DeepEP.Tests.Cli.Launch;

/// <summary>One process per rank, end to end: `deepep launch` starts two `deepep bench` processes that meet over TCP.</summary>
public sealed class MultiProcessBenchTests
{
    [Fact]
    public async Task LaunchedProcessesDispatchAndCombineCorrectly()
    {
        string log = await LaunchedRanks.RunAsync(2,
            LaunchedRanks.Cli("bench", "--backend", "host", "--tokens", "48", "--ll-tokens", "6", "--hidden", "256", "--warmups", "0", "--iterations", "1"));

        Assert.Contains("[rank 0] deepep bench backend host, 2 ranks", log);
        foreach (string operation in new[] { "dispatch FP8", "dispatch BF16", "combine BF16", "dispatch + combine" })
        {
            Assert.Contains(operation, log);
        }
        Assert.DoesNotContain("✗", log);
    }
}
