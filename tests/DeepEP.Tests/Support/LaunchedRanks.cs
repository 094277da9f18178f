using System.Collections.Concurrent;
using System.Diagnostics;
using DeepEP.Cli.Launch;

namespace DeepEP.Tests.Support;

/// <summary>
/// The one process harness of both test projects (the GPU project links this file): starts N ranks of a program
/// through the library's own launcher (<see cref="RankLauncher"/>, what <c>deepep launch -n N -- program</c> runs:
/// the torchrun-style environment, output prefixed <c>[rank i]</c>, every rank stopped as soon as one fails) and fails
/// the test when a rank exits with a non-zero status, naming that rank and quoting its output, or when the ranks run
/// past the hang limit. With a designated casualty (<see cref="RunWithCasualtyAsync"/>) one rank is meant to die or
/// stall: the others run on, and the harness checks that exactly that rank did.
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

    /// <summary>The line a rank prints just before it stops or kills itself on purpose; the seconds to detect count from it.</summary>
    public const string CasualtyMarker = "[casualty]";

    /// <summary>
    /// Runs <paramref name="ranks"/> copies of <paramref name="command"/> in which rank <paramref name="casualty"/>
    /// prints <see cref="CasualtyMarker"/> and then kills (<paramref name="killed"/>: SIGKILL) or stops (SIGSTOP)
    /// itself. A dying rank does not stop the others; once every other rank has exited, the run ends and a stopped
    /// casualty is killed. Fails the test when the casualty never announced its fault, when a killed one did not die
    /// by SIGKILL, when a stopped one exited before the survivors, or when a survivor runs past the hang limit.
    /// </summary>
    public static async Task<LaunchedRank[]> RunWithCasualtyAsync(int ranks, IReadOnlyList<string> command, int casualty, bool killed, TimeSpan hangLimit)
    {
        var clock = Stopwatch.StartNew();
        using var output = new MarkedWriter(clock);
        using var error = new StringWriter();
        var exits = new ConcurrentDictionary<int, (int Status, TimeSpan At)>();
        var launcher = new RankLauncher(new LaunchOptions { Command = command, ProcessesPerNode = ranks, StopOnFailure = false }, output, error);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(hangLimit);
        bool survivorsDone = false;
        launcher.RankExited += (_, exit) =>
        {
            exits[exit.Rank] = (exit.Status, clock.Elapsed);
            if (!survivorsDone && Enumerable.Range(0, ranks).All(r => r == casualty || exits.ContainsKey(r)))
            {
                survivorsDone = true;
                stop.Cancel(); // the only rank left is the stopped casualty: kill it
            }
        };
        await launcher.RunAsync(stop.Token);
        TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
        string log = output + Environment.NewLine + error;
        string program = Path.GetFileName(command[0]);
        int[] running = [.. Enumerable.Range(0, ranks).Where(r => r != casualty && !exits.ContainsKey(r))];
        Assert.True(survivorsDone, $"rank(s) {string.Join(", ", running)} of {ranks} ({program}) ran past the hang limit of {hangLimit} after rank {casualty} failed; all were stopped.{Environment.NewLine}{log}");
        TimeSpan fault = output.Marked ?? throw new Xunit.Sdk.XunitException($"rank {casualty} of {ranks} ({program}) never reached its fault.{Environment.NewLine}{log}");
        if (killed)
        {
            Assert.True(exits.TryGetValue(casualty, out var death) && death.Status == 128 + 9, $"rank {casualty} was to die by SIGKILL (status 137) but {(exits.ContainsKey(casualty) ? $"exited with {death.Status}" : "did not exit")}.{Environment.NewLine}{log}");
        }
        else
        {
            Assert.False(exits.ContainsKey(casualty), $"rank {casualty} was to stay stopped but exited with status {exits.GetValueOrDefault(casualty).Status}.{Environment.NewLine}{log}");
        }
        return [.. Enumerable.Range(0, ranks).Select(r => new LaunchedRank(r, exits.TryGetValue(r, out var e) ? e.Status : null, Lines(log, r),
            exits.TryGetValue(r, out var end) ? (end.At - fault).TotalSeconds : null))];
    }

    /// <summary>
    /// <see cref="RunWithCasualtyAsync"/>, then every survivor must exit with status 1 within <paramref name="within"/>
    /// of the casualty's fault, its output naming the casualty (<c>rank r</c>) and matching <paramref name="step"/>.
    /// </summary>
    public static async Task<LaunchedRank[]> SurvivorsFailAsync(int ranks, IReadOnlyList<string> command, int casualty, bool killed, string step, TimeSpan within)
    {
        LaunchedRank[] outcomes = await RunWithCasualtyAsync(ranks, command, casualty, killed, within + TimeSpan.FromSeconds(60));
        foreach (LaunchedRank survivor in outcomes.Where(o => o.Rank != casualty))
        {
            string what = $"rank {survivor.Rank} after rank {casualty} was {(killed ? "killed" : "stopped")}";
            Assert.True(survivor.ExitCode == 1, $"{what}: exit status {survivor.ExitCode}, not 1.{Environment.NewLine}{survivor.Output}");
            Assert.Contains($"rank {casualty}", survivor.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Matches(step, survivor.Output);
            Assert.True(survivor.SecondsToExit <= within.TotalSeconds, $"{what}: ended {survivor.SecondsToExit:F2} s after the fault, over {within.TotalSeconds} s.{Environment.NewLine}{survivor.Output}");
        }
        string slowest = outcomes.Where(o => o.Rank != casualty).Max(o => o.SecondsToExit)?.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) ?? "—";
        TestContext.Current.TestOutputHelper?.WriteLine($"rank {casualty} {(killed ? "SIGKILL" : "SIGSTOP")}: slowest survivor exited {slowest} s after the fault");
        return outcomes;
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

    /// <summary>The ranks' standard output, noting when the first <see cref="CasualtyMarker"/> line arrived.</summary>
    private sealed class MarkedWriter(Stopwatch clock) : StringWriter(System.Globalization.CultureInfo.InvariantCulture)
    {
        public TimeSpan? Marked { get; private set; }

        public override void WriteLine(string? value)
        {
            if (Marked is null && value is not null && value.Contains(CasualtyMarker, StringComparison.Ordinal))
            {
                Marked = clock.Elapsed;
            }
            base.WriteLine(value);
        }
    }
}
