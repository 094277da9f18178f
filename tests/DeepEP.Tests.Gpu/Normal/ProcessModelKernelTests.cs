using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Ep.Heuristics;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// The kernels backend with one process per GPU (CUDA IPC and the receive arena) against the CPU reference: the test
/// starts two copies of this test executable as ranks, with the variables <c>deepep launch</c> sets; each runs
/// <see cref="LaunchedRank"/>, which writes its snapshots to a folder this process compares byte for byte with the
/// host backend's.
/// </summary>
public sealed class ProcessModelKernelTests
{
    private const int Ranks = 2;
    private const string SnapshotVariable = "DEEPEP_TEST_SNAPSHOT_DIR";
    private static readonly TimeSpan RanksDeadline = TimeSpan.FromMinutes(4);

    // tokens, hidden, experts, topk: an empty rank, masked slots with expert alignment and events, the bench shape.
    private static readonly (NormalCase Case, int Alignment, bool AsyncFinish)[] Cases =
    [
        (new NormalCase(0, 2048, 16, 4, Seed: 1), 1, false),
        (new NormalCase(37, 2048, 64, 6, Seed: 5, MaskedSlots: 5), 4, true),
        (new NormalCase(512, 7168, 256, 8, Seed: 11), 1, false),
    ];

    [Fact]
    public async Task MatchesTheReferenceWithOneProcessPerGpu()
    {
        Assert.SkipUnless(CudaDevice.IsAvailable && CudaDevice.Count >= Ranks, "Needs at least two GPUs.");
        Dictionary<string, byte[]>[][] reference = RankHarness.Run(Ranks, EpBackendKind.Host, 1L << 30,
            b => Cases.Select(c => NormalScenario.Run(b, c.Case, c.Alignment, numSms: 24, c.AsyncFinish)).ToArray());
        DirectoryInfo folder = Directory.CreateTempSubdirectory("deepep-ipc-");
        try
        {
            string log = await RunRanks(folder.FullName);
            for (int r = 0; r < Ranks; r++)
            {
                for (int i = 0; i < Cases.Length; i++)
                {
                    foreach ((string name, byte[] expected) in reference[r][i])
                    {
                        byte[] actual = File.ReadAllBytes(SnapshotPath(folder.FullName, r, i, name));
                        Assert.True(expected.AsSpan().SequenceEqual(actual),
                            $"rank {r}, case {Cases[i].Case}: {name} differs ({actual.Length} vs {expected.Length} bytes){Environment.NewLine}{log}");
                    }
                }
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>One rank of <see cref="MatchesTheReferenceWithOneProcessPerGpu"/>; skipped when run any other way.</summary>
    [Fact]
    public void LaunchedRank()
    {
        string? folder = Environment.GetEnvironmentVariable(SnapshotVariable);
        Assert.SkipWhen(folder is null, $"Runs only as a rank {nameof(MatchesTheReferenceWithOneProcessPerGpu)} starts.");
        using ProcessGroup group = ProcessGroup.FromEnvironment(TimeSpan.FromSeconds(60));
        for (int i = 0; i < Cases.Length; i++)
        {
            NormalCase c = Cases[i].Case;
            // The worst-case dispatch of the scenario receives Tokens * Ranks + 1 rows: size for one token more per rank.
            long nvlBytes = EpBuffer.GetDispatchConfig(Ranks).GetNvlBufferSizeHint(c.Hidden * 2L, Ranks, c.Tokens + 1, c.Topk);
            using EpBuffer buffer = KernelsBuffer(group, nvlBytes);
            foreach ((string name, byte[] bytes) in NormalScenario.Run(buffer, c, Cases[i].Alignment, numSms: 24, Cases[i].AsyncFinish))
            {
                File.WriteAllBytes(SnapshotPath(folder!, group.Rank, i, name), bytes);
            }
        }

        // A receive arena too small for the rows: every rank finishes the call, each receiver names numNvlBytes.
        using EpBuffer tight = KernelsBuffer(group, BufferSizeHints.NvlBufferBytes + (64 * 1024));
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(
            () => NormalScenario.Run(tight, new NormalCase(256, 2048, 16, 4, Seed: 3), 1, numSms: 24, asyncFinish: false));
        Assert.Contains("numNvlBytes", error.Message);
    }

    private static EpBuffer KernelsBuffer(ProcessGroup group, long nvlBytes) =>
        new(group, nvlBytes, options: new EpBufferOptions { Backend = EpBackendKind.Kernels, Device = group.LocalRank, Timeout = TimeSpan.FromSeconds(20) });

    private static string SnapshotPath(string folder, int rank, int caseIndex, string name) =>
        Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"rank{rank}.case{caseIndex}.{name}"));

    /// <summary>Runs <see cref="LaunchedRank"/> in one process per rank and returns their output; fails on a non-zero exit or the deadline.</summary>
    private static async Task<string> RunRanks(string folder)
    {
        int port = FreePort();
        Process[] ranks = Enumerable.Range(0, Ranks).Select(r => StartRank(r, port, folder)).ToArray();
        Task<string>[] outputs = ranks.Select(p => Task.WhenAll(p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync())
            .ContinueWith(t => string.Concat(t.Result), TaskScheduler.Default)).ToArray();
        using var deadline = new CancellationTokenSource(RanksDeadline);
        try
        {
            await Task.WhenAll(ranks.Select(p => p.WaitForExitAsync(deadline.Token)));
        }
        catch (OperationCanceledException)
        {
            foreach (Process p in ranks.Where(p => !p.HasExited))
            {
                p.Kill(entireProcessTree: true);
            }
        }
        string log = string.Join(Environment.NewLine, await Task.WhenAll(outputs));
        for (int r = 0; r < Ranks; r++)
        {
            Assert.True(ranks[r].HasExited && ranks[r].ExitCode == 0, $"rank {r} failed or ran past {RanksDeadline}:{Environment.NewLine}{log}");
            ranks[r].Dispose();
        }
        return log;
    }

    private static Process StartRank(int rank, int port, string folder)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }
        foreach (string argument in new[] { "-noColor", "-method", $"{typeof(ProcessModelKernelTests).FullName}.{nameof(LaunchedRank)}" })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["RANK"] = start.Environment["LOCAL_RANK"] = rank.ToString(CultureInfo.InvariantCulture);
        start.Environment["WORLD_SIZE"] = start.Environment["LOCAL_WORLD_SIZE"] = Ranks.ToString(CultureInfo.InvariantCulture);
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
