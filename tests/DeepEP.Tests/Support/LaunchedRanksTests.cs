using Xunit.Sdk;

namespace DeepEP.Tests.Support;

/// <summary>The process harness fails a test naming the rank that failed, with that rank's output, and stops ranks that hang.</summary>
public sealed class LaunchedRanksTests
{
    [Fact]
    public async Task ReturnsTheOutputOfEveryRank()
    {
        string log = await LaunchedRanks.RunAsync(2, ["/bin/sh", "-c", "echo hello $RANK of $WORLD_SIZE"]);
        Assert.Contains("[rank 0] hello 0 of 2", log);
        Assert.Contains("[rank 1] hello 1 of 2", log);
    }

    [Fact]
    public async Task AFailingRankIsNamedWithItsOutput()
    {
        var failure = await Assert.ThrowsAnyAsync<XunitException>(
            () => LaunchedRanks.RunAsync(2, ["/bin/sh", "-c", "echo hello $RANK; [ $RANK = 0 ] || exit 4; sleep 30"]));
        Assert.Contains("rank 1 of 2 (sh) exited with status 4; its output:" + Environment.NewLine + "[rank 1] hello 1", failure.Message);
    }

    [Fact]
    public async Task RanksPastTheHangLimitAreStopped()
    {
        var failure = await Assert.ThrowsAnyAsync<XunitException>(
            () => LaunchedRanks.RunAsync(2, ["/bin/sh", "-c", "echo waiting; sleep 30"], TimeSpan.FromSeconds(1)));
        Assert.Contains("2 rank(s) of sh ran past the hang limit of 00:00:01; all were stopped.", failure.Message);
        Assert.Contains("[rank 1] waiting", failure.Message);
    }
}
