using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace DeepEP.Tests.Gpu.Support;

/// <summary>
/// Starts one copy of this test executable per rank, each running one test method as that rank with the variables
/// <c>deepep launch</c> sets (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and waits for them with a deadline.
/// </summary>
internal static class RankProcesses
{
    private const string SnapshotVariable = "DEEPEP_TEST_SNAPSHOT_DIR";
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(6);

    /// <summary>The folder a launched rank writes to, or null when this process was not started as a rank.</summary>
    public static string? SnapshotFolder => Environment.GetEnvironmentVariable(SnapshotVariable);

    /// <summary>Runs <paramref name="method"/> (a full test name) in <paramref name="ranks"/> processes; fails on a non-zero exit or the deadline; returns their output.</summary>
    public static async Task<string> RunAsync(int ranks, string method, string folder)
    {
        int port = FreePort();
        Process[] processes = Enumerable.Range(0, ranks).Select(r => Start(r, ranks, port, method, folder)).ToArray();
        Task<string>[] outputs = processes.Select(p => Task.WhenAll(p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync())
            .ContinueWith(t => string.Concat(t.Result), TaskScheduler.Default)).ToArray();
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            await Task.WhenAll(processes.Select(p => p.WaitForExitAsync(deadline.Token)));
        }
        catch (OperationCanceledException)
        {
            foreach (Process p in processes.Where(p => !p.HasExited))
            {
                p.Kill(entireProcessTree: true);
            }
        }
        string log = string.Join(Environment.NewLine, await Task.WhenAll(outputs));
        for (int r = 0; r < ranks; r++)
        {
            Assert.True(processes[r].HasExited && processes[r].ExitCode == 0, $"rank {r} failed or ran past {Deadline}:{Environment.NewLine}{log}");
            processes[r].Dispose();
        }
        return log;
    }

    private static Process Start(int rank, int ranks, int port, string method, string folder)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }
        foreach (string argument in new[] { "-noColor", "-method", method })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["RANK"] = start.Environment["LOCAL_RANK"] = rank.ToString(CultureInfo.InvariantCulture);
        start.Environment["WORLD_SIZE"] = start.Environment["LOCAL_WORLD_SIZE"] = ranks.ToString(CultureInfo.InvariantCulture);
        start.Environment["MASTER_ADDR"] = IPAddress.Loopback.ToString();
        start.Environment["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment[SnapshotVariable] = folder;
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {self}.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
