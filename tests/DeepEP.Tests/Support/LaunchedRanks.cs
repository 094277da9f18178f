using DeepEP.Cli.Launch;

namespace DeepEP.Tests.Support;

/// <summary>
/// The one process harness of both test projects (the GPU project links this file): starts N ranks of a program
/// through the library's own launcher (<see cref="RankLauncher"/>, what <c>deepep launch -n N -- program</c> runs:
/// the torchrun-style environment, output prefixed <c>[rank i]</c>, every rank stopped as soon as one fails) and fails
/// the test when a rank exits with a non-zero status, naming that rank and quoting its output, or when the ranks run
/// past the hang limit.
/// </summary>
internal static class LaunchedRanks
{
    /// <summary>How long ranks may run when the test gives no limit of its own.</summary>
    public static readonly TimeSpan DefaultHangLimit = TimeSpan.FromMinutes(4);

    /// <summary>Runs <paramref name="ranks"/> copies of <paramref name="command"/> to completion and returns their output (standard output, then standard error).</summary>
    public static async Task<string> RunAsync(int ranks, IReadOnlyList<string> command, TimeSpan? hangLimit = null)
    {
        TimeSpan limit = hangLimit ?? DefaultHangLimit;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var launcher = new RankLauncher(new LaunchOptions { Command = command, ProcessesPerNode = ranks }, output, error);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(limit);
        int status = await launcher.RunAsync(deadline.Token);
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        string log = output + Environment.NewLine + error;
        string program = Path.GetFileName(command[0]);
        Assert.False(deadline.IsCancellationRequested, $"{ranks} rank(s) of {program} ran past the hang limit of {limit}; all were stopped.{Environment.NewLine}{log}");
        Assert.True(status == 0, launcher.FailedRank is { } rank
            ? $"rank {rank} of {ranks} ({program}) exited with status {status}; its output:{Environment.NewLine}{Lines(log, rank)}{Environment.NewLine}every rank:{Environment.NewLine}{log}"
            : $"{program} could not be started for every rank (status {status}):{Environment.NewLine}{log}");
        return log;
    }

    /// <summary>
    /// The command that runs <paramref name="program"/>, an executable of this solution that the build (or
    /// scripts/publish-device.sh) puts beside the test runner, the way the runner itself was started: its own
    /// executable in a published bundle, <c>dotnet program.dll</c> under <c>dotnet</c>.
    /// </summary>
    public static string[] Beside(string program, params IEnumerable<string> arguments)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("The test runner's executable is unknown.");
        bool viaDotnet = Path.GetFileNameWithoutExtension(host) == "dotnet";
        string path = Path.Combine(AppContext.BaseDirectory, viaDotnet ? program + ".dll" : program);
        Assert.True(File.Exists(path), $"{path} is not beside the test runner; build the solution or publish with scripts/publish-device.sh.");
        return viaDotnet ? [host, path, .. arguments] : [path, .. arguments];
    }

    /// <summary>The <c>deepep</c> command line tool with <paramref name="arguments"/>, from beside the test runner.</summary>
    public static string[] Cli(params IEnumerable<string> arguments) => Beside("DeepEP.Cli", arguments);

    private static string Lines(string log, int rank)
    {
        string prefix = $"[rank {rank}] ";
        return string.Join(Environment.NewLine, log.Split('\n').Where(line => line.StartsWith(prefix, StringComparison.Ordinal)));
    }
}
