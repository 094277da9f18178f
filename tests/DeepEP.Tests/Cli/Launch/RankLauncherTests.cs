using System.Diagnostics;
using System.Text.RegularExpressions;
using DeepEP.Cli.Launch;

namespace DeepEP.Tests.Cli.Launch;

public sealed partial class RankLauncherTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("deepep-launch-").FullName;
    private readonly StringWriter output = new();
    private readonly StringWriter error = new();

    public void Dispose()
    {
        Directory.Delete(directory, recursive: true);
        output.Dispose();
        error.Dispose();
    }

    private RankLauncher? launcher;

    private Task<int> LaunchAsync(int ranks, string script, int nodeCount = 1, int nodeRank = 0, string? masterAddress = null, int? masterPort = null)
    {
        launcher = new RankLauncher(new LaunchOptions
        {
            Command = ["/bin/sh", "-c", script],
            ProcessesPerNode = ranks,
            NodeCount = nodeCount,
            NodeRank = nodeRank,
            MasterAddress = masterAddress,
            MasterPort = masterPort,
        }, output, error);
        return launcher.RunAsync(TestContext.Current.CancellationToken);
    }

    private static string[] Lines(StringWriter writer) => writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task PrefixesEveryLineWithItsRankAndSucceedsWhenAllRanksDo()
    {
        int status = await LaunchAsync(2, """echo "out $RANK"; echo "more $RANK"; echo "err $RANK" >&2""");
        Assert.Equal(0, status);
        Assert.Null(launcher!.FailedRank);
        Assert.Equal(["[rank 0] more 0", "[rank 0] out 0", "[rank 1] more 1", "[rank 1] out 1"], Lines(output).Order());
        Assert.Equal(["[rank 0] err 0", "[rank 1] err 1"], Lines(error).Order());
    }

    [Fact]
    public async Task GivesEachRankTheTorchrunEnvironment()
    {
        int status = await LaunchAsync(2, "echo $RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $NODE_RANK $NNODES $MASTER_ADDR $MASTER_PORT",
            nodeCount: 2, nodeRank: 1, masterAddress: "127.0.0.1", masterPort: 12345);
        Assert.Equal(0, status);
        Assert.Equal(["[rank 2] 2 4 0 2 1 2 127.0.0.1 12345", "[rank 3] 3 4 1 2 1 2 127.0.0.1 12345"], Lines(output).Order());
    }

    [Fact]
    public async Task PicksAFreePortOnOneNodeAndKeepsNvlinkMulticastOff()
    {
        int status = await LaunchAsync(1, "echo $MASTER_ADDR $MASTER_PORT $NCCL_NVLS_ENABLE $NVSHMEM_DISABLE_NVLS");
        Assert.Equal(0, status);
        var fields = Assert.Single(Lines(output)).Split(' ');
        Assert.Equal("127.0.0.1", fields[2]);
        Assert.InRange(int.Parse(fields[3]), 1, 65535);
        Assert.Equal(["0", "1"], fields[4..]);
    }

    [Fact]
    public async Task AFailingRankEndsTheLaunchWithItsStatusAndKillsTheOthers()
    {
        string pidFile = Path.Combine(directory, "sleeper.pid");
        var watch = Stopwatch.StartNew();
        int status = await LaunchAsync(2, $"""
            if [ "$RANK" = 0 ]; then echo $$ > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; exec sleep 30; fi
            while [ ! -f {pidFile} ]; do sleep 0.05; done
            echo "giving up" >&2; exit 3
            """);
        Assert.Equal(3, status);
        Assert.Equal(1, launcher!.FailedRank);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.False(IsAlive(int.Parse(File.ReadAllText(pidFile))), "the sleeping rank survived");
        Assert.Equal(["[rank 1] giving up", "[launch] rank 1 exited with status 3; stopped rank(s) 0."], Lines(error));
    }

    [Fact]
    public async Task WithoutStopOnFailureTheOthersRunOnAndEveryExitIsAnnounced()
    {
        var exits = new List<RankExit>();
        var launch = new RankLauncher(new LaunchOptions
        {
            Command = ["/bin/sh", "-c", """if [ "$RANK" = 0 ]; then kill -KILL $$; fi; sleep 0.5; echo "still here"; exit 2"""],
            ProcessesPerNode = 2,
            StopOnFailure = false,
        }, output, error);
        launch.RankExited += (_, exit) => exits.Add(exit);
        int status = await launch.RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(128 + 9, status);
        Assert.Equal(0, launch.FailedRank);
        Assert.Equal([new RankExit(0, 128 + 9), new RankExit(1, 2)], exits);
        Assert.Equal(["[rank 1] still here"], Lines(output));
    }

    [Fact]
    public async Task KillsTheWholeProcessTreeOfTheOtherRanks()
    {
        string pidFile = Path.Combine(directory, "grandchild.pid");
        var watch = Stopwatch.StartNew();
        int status = await LaunchAsync(2, $"""
            if [ "$RANK" = 0 ]; then sleep 30 & echo $! > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; wait; fi
            while [ ! -f {pidFile} ]; do sleep 0.05; done
            exit 5
            """);
        Assert.Equal(5, status);
        // The grandchild holds rank 0's output pipe: had it survived, the launcher would have waited for it.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        Assert.False(IsAlive(int.Parse(File.ReadAllText(pidFile))), "rank 0's child survived");
    }

    [Fact]
    public async Task LinesFromManyRanksAreNeverInterleaved()
    {
        int status = await LaunchAsync(4, """i=0; while [ $i -lt 200 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done""");
        Assert.Equal(0, status);
        string[] lines = Lines(output);
        Assert.Equal(800, lines.Length);
        Assert.All(lines, line => Assert.Matches(WholeLine(), line));
    }

    [Fact]
    public async Task CopiesALastLineThatHasNoNewline()
    {
        Assert.Equal(0, await LaunchAsync(1, "printf 'no newline'"));
        Assert.Equal(["[rank 0] no newline"], Lines(output));
    }

    [Fact]
    public async Task AMissingProgramEndsTheLaunchWith127()
    {
        int status = await new RankLauncher(new LaunchOptions { Command = [Path.Combine(directory, "no-such-program")] }, output, error)
            .RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(RankLauncher.CannotStartExitCode, status);
        Assert.Contains("[launch] cannot start", error.ToString());
    }

    [Fact]
    public async Task CancellingTheLaunchKillsEveryRank()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        int status = await new RankLauncher(new LaunchOptions { Command = ["/bin/sh", "-c", "exec sleep 30"], ProcessesPerNode = 2 }, output, error)
            .RunAsync(cancellation.Token);
        Assert.Equal(RankLauncher.InterruptedExitCode, status);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public void InvalidOptionsAreRejectedWithTheFix()
    {
        var error = Assert.Throws<ArgumentException>(() => new RankLauncher(new LaunchOptions { Command = ["x"], NodeCount = 2 }, output, this.error));
        Assert.Contains("--master-addr is required with --nnodes > 1", error.Message);
    }

    // A killed process whose parent died too may stay a zombie ('Z') until something reaps it: that is dead.
    private static bool IsAlive(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] != 'Z';
        }
        catch (IOException)
        {
            return false; // gone, or reaped while we looked
        }
    }

    [GeneratedRegex(@"^\[rank [0-3]\] line \d+ x{74}$")]
    private static partial Regex WholeLine();
}
