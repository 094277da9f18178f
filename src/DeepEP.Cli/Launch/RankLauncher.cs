using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DeepEP.Distributed;

namespace DeepEP.Cli.Launch;

/// <summary>
/// Starts this node's ranks of a command with the torchrun-style environment (RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, NODE_RANK, NNODES, MASTER_ADDR, MASTER_PORT), copies their output line by line with a
/// <c>[rank i] </c> prefix, and as soon as one exits with a non-zero status kills the others (whole process trees)
/// and reports that status (unless <see cref="LaunchOptions.StopOnFailure"/> is off). Each exit is announced by
/// <see cref="RankExited"/>.
/// </summary>
public sealed class RankLauncher
{
    /// <summary>Exit status when the command cannot be started (as a shell reports a missing command).</summary>
    public const int CannotStartExitCode = 127;

    /// <summary>Exit status when the launcher is cancelled (Ctrl+C): 128 + SIGINT, as a shell reports it.</summary>
    public const int InterruptedExitCode = 130;

    // Output still buffered in a pipe after its process ended is copied for at most this long (a grandchild that
    // escaped the kill may hold the pipe open forever).
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly LaunchOptions options;
    private readonly TextWriter output;
    private readonly TextWriter error;
    private readonly Lock outputGate = new();

    /// <summary>Prepares a launch; nothing starts until <see cref="RunAsync"/>.</summary>
    /// <param name="options">The command and this node's place; must be valid (<see cref="LaunchOptions.Validate"/>).</param>
    /// <param name="output">Receives the ranks' standard output, each line prefixed with its rank.</param>
    /// <param name="error">Receives the ranks' standard error, prefixed likewise, and the launcher's own messages.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message says how.</exception>
    public RankLauncher(LaunchOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
        this.options = options;
        this.output = output;
        this.error = error;
    }

    /// <summary>Raised as each rank exits, with its status, on the launcher's supervising task.</summary>
    public event EventHandler<RankExit>? RankExited;

    /// <summary>The rank whose non-zero exit ended the last <see cref="RunAsync"/>, or null when none did.</summary>
    public int? FailedRank { get; private set; }

    /// <summary>
    /// Runs the ranks to completion: 0 when all exit with 0; otherwise the status of the first rank that failed
    /// (the others are killed, or with <see cref="LaunchOptions.StopOnFailure"/> off awaited), <see cref="CannotStartExitCode"/> or, when cancelled, <see cref="InterruptedExitCode"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the launch: every rank is killed.</param>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        FailedRank = null;
        string masterAddress = options.MasterAddress ?? DistributedEnvironment.DefaultMasterAddress;
        int masterPort = options.MasterPort ?? (options.NodeCount == 1 ? FindFreePort() : DistributedEnvironment.DefaultMasterPort);
        var ranks = new List<RankProcess>();
        try
        {
            for (int localRank = 0; localRank < options.ProcessesPerNode; localRank++)
            {
                int rank = options.NodeRank * options.ProcessesPerNode + localRank;
                Process process;
                try
                {
                    process = Process.Start(CreateStartInfo(rank, localRank, masterAddress, masterPort))!;
                }
                catch (Win32Exception failure)
                {
                    WriteLine(error, $"[launch] cannot start '{options.Command[0]}' for rank {rank}: {failure.Message}");
                    return CannotStartExitCode;
                }
                string prefix = $"[rank {rank}] ";
                ranks.Add(new RankProcess(rank, process,
                    Task.WhenAll(CopyLinesAsync(process.StandardOutput, output, prefix), CopyLinesAsync(process.StandardError, error, prefix))));
            }
            return await SuperviseAsync(ranks, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await StopAsync(ranks).ConfigureAwait(false);
            foreach (var rank in ranks)
            {
                rank.Process.Dispose();
            }
        }
    }

    /// <summary>Waits for the ranks; returns at the first non-zero status, at cancellation, or with 0 when all succeeded.</summary>
    private async Task<int> SuperviseAsync(List<RankProcess> ranks, CancellationToken cancellationToken)
    {
        // Keyed by rank, not by task: exit tasks of processes that already ended can be one shared completed task.
        var running = ranks.ToDictionary(rank => rank.Rank, rank => rank.Process.WaitForExitAsync(CancellationToken.None));
        var cancelled = Task.Delay(Timeout.Infinite, cancellationToken);
        int firstFailure = 0;
        while (running.Count > 0)
        {
            var exited = await Task.WhenAny(running.Values.Append(cancelled)).ConfigureAwait(false);
            if (exited == cancelled)
            {
                WriteLine(error, "[launch] interrupted: stopping every rank.");
                return InterruptedExitCode;
            }
            var rank = ranks.First(candidate => running.TryGetValue(candidate.Rank, out var exit) && exit.IsCompleted);
            running.Remove(rank.Rank);
            int status = rank.Process.ExitCode;
            RankExited?.Invoke(this, new RankExit(rank.Rank, status));
            if (status != 0 && FailedRank is null)
            {
                FailedRank = rank.Rank;
                firstFailure = status;
            }
            if (status != 0 && options.StopOnFailure)
            {
                await StopAsync(ranks).ConfigureAwait(false);
                string stopped = running.Count == 0 ? "" : $"; stopped rank(s) {string.Join(", ", running.Keys)}";
                WriteLine(error, $"[launch] rank {rank.Rank} exited with status {status}{stopped}.");
                return status;
            }
        }
        return firstFailure;
    }

    /// <summary>Kills every rank still running, with its descendants, and copies the output left in their pipes.</summary>
    private static async Task StopAsync(List<RankProcess> ranks)
    {
        foreach (var rank in ranks)
        {
            try
            {
                rank.Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited and reaped.
            }
        }
        try
        {
            await Task.WhenAll(ranks.Select(rank => rank.Output)).WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A descendant outside the killed trees still holds a pipe: give up on its last lines.
        }
    }

    private ProcessStartInfo CreateStartInfo(int rank, int localRank, string masterAddress, int masterPort)
    {
        var info = new ProcessStartInfo(options.Command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in options.Command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }
        var environment = info.Environment;
        environment["RANK"] = Invariant(rank);
        environment["WORLD_SIZE"] = Invariant(options.ProcessesPerNode * options.NodeCount);
        environment["LOCAL_RANK"] = Invariant(localRank);
        environment["LOCAL_WORLD_SIZE"] = Invariant(options.ProcessesPerNode);
        environment["NODE_RANK"] = Invariant(options.NodeRank);
        environment["NNODES"] = Invariant(options.NodeCount);
        environment["MASTER_ADDR"] = masterAddress;
        environment["MASTER_PORT"] = Invariant(masterPort);
        // NVLink multicast stays off unless the user decided otherwise: on shared hosts a program using it can put
        // the GPUs out of service for everyone.
        environment.TryAdd("NCCL_NVLS_ENABLE", "0");
        environment.TryAdd("NVSHMEM_DISABLE_NVLS", "1");
        environment.TryAdd("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1");
        return info;
    }

    private async Task CopyLinesAsync(StreamReader source, TextWriter destination, string prefix)
    {
        while (await source.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            WriteLine(destination, prefix + line);
        }
    }

    // One lock for both writers: a line is written whole, never interleaved with another.
    private void WriteLine(TextWriter destination, string line)
    {
        lock (outputGate)
        {
            destination.WriteLine(line);
            destination.Flush();
        }
    }

    private static int FindFreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed record RankProcess(int Rank, Process Process, Task Output);
}
