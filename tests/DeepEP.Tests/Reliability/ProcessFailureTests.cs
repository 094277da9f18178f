using System.Diagnostics;
using DeepEP.Tests.Distributed;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// One process per rank (`deepep soak` joined over TCP, DEEPEP_TIMEOUT_S=2): a rank under SIGSTOP or killed mid-run. The
/// survivor must end within the deadline plus the relay's verdict wait, naming the rank and the step, never hang.
/// </summary>
public sealed class ProcessFailureTests
{
    private const double TimeoutSeconds = 2;

    [Theory]
    [InlineData(1, "STOP", TimeoutSeconds + 2)]
    [InlineData(0, "STOP", TimeoutSeconds + 4)] // rank 0 hosts the relay: the survivor waits 2 s past its deadline for a verdict
    [InlineData(1, "KILL", 2)]
    public async Task TheSurvivorReportsTheRank(int victim, string signal, double maxSeconds)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Sends POSIX signals.");
        int port = LoopbackRanks.FreePort();
        Process[] ranks = [.. Enumerable.Range(0, 2).Select(rank => Start(rank, port))];
        try
        {
            Task<string>[] outputs = [.. ranks.Select(p => p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken))];
            // Both printed their header, so both are past the rendezvous and iterating.
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            Process survivor = ranks[1 - victim];
            Assert.False(survivor.HasExited, "the soak ended before the fault was injected");
            using (Process kill = Process.Start("kill", [$"-{signal}", ranks[victim].Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
            }
            var clock = Stopwatch.StartNew();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await survivor.WaitForExitAsync(limit.Token);
            double seconds = clock.Elapsed.TotalSeconds;
            string log = await outputs[1 - victim];
            TestContext.Current.TestOutputHelper?.WriteLine($"SIG{signal} rank {victim}: rank {1 - victim} ended after {seconds:F2} s");
            Assert.Equal(1, survivor.ExitCode);
            Assert.Contains($"rank {victim}", log, StringComparison.OrdinalIgnoreCase);
            Assert.Matches("dispatch|combine", log);
            Assert.True(seconds < maxSeconds, $"detected after {seconds:F2} s: {log}");
        }
        finally
        {
            foreach (Process rank in ranks)
            {
                if (!rank.HasExited)
                {
                    rank.Kill(entireProcessTree: true); // SIGKILL also ends a stopped process
                }
                rank.Dispose();
            }
        }
    }

    private static Process Start(int rank, int port)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "DeepEP.Cli.dll"), "soak", "--backend", "host", "--iterations", "100000000" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["RANK"] = rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["WORLD_SIZE"] = "2",
                ["MASTER_ADDR"] = "127.0.0.1",
                ["MASTER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DEEPEP_TIMEOUT_S"] = "2",
            },
        };
        Process process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        return process;
    }
}
