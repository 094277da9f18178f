using System.Globalization;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Ep.Heuristics;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// The kernels backend with one process per rank (CUDA IPC, the receive arena; several processes on one GPU when
/// there are fewer GPUs than ranks, time-sliced by the driver) against the CPU reference: the test starts N copies of
/// this test executable as ranks, with the variables <c>deepep launch</c> sets; each runs <see cref="LaunchedRank"/>,
/// which runs every normal-mode and low-latency case of the suite and writes its snapshots to a folder this process
/// compares byte for byte with the host backend's.
/// </summary>
public sealed class ProcessModelKernelTests
{
    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public async Task MatchesTheReferenceWithOneProcessPerRank(int ranks)
    {
        GpuRanks.Require();
        Dictionary<string, byte[]>[] reference = RankHarness.Run(ranks, EpBackendKind.Host, b => Prefix("normal", NormalCases.Suite, c => NormalScenario.Run(b, Fit(c, ranks))));
        foreach ((string name, LowLatencyCase c) in LowLatencyCases.Suite)
        {
            Dictionary<string, byte[]>[] ll = RankHarness.Run(ranks, EpBackendKind.Host, (g, _) => LowLatencyKernelTests.Create(g, c, EpBackendKind.Host), b => LowLatencyScenario.Run(b, c));
            for (int r = 0; r < ranks; r++)
            {
                foreach ((string snapshot, byte[] bytes) in ll[r])
                {
                    reference[r][$"ll.{name}.{snapshot}"] = bytes;
                }
            }
        }
        DirectoryInfo folder = Directory.CreateTempSubdirectory("deepep-ipc-");
        try
        {
            string log = await RankProcesses.RunAsync(ranks, $"{typeof(ProcessModelKernelTests).FullName}.{nameof(LaunchedRank)}", folder.FullName);
            var actual = Enumerable.Range(0, ranks).Select(r => reference[r].Keys.ToDictionary(name => name, name => Read(folder.FullName, r, name))).ToArray();
            Snapshots.RequireEqual(EpBackendKind.Kernels, reference, actual);
            TestContext.Current.TestOutputHelper?.WriteLine(log.Length > 4000 ? log[^4000..] : log);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>One rank of <see cref="MatchesTheReferenceWithOneProcessPerRank"/>; skipped when run any other way.</summary>
    [Fact]
    public void LaunchedRank()
    {
        string? folder = RankProcesses.SnapshotFolder;
        Assert.SkipWhen(folder is null, $"Runs only as a rank {nameof(MatchesTheReferenceWithOneProcessPerRank)} starts.");
        using ProcessGroup group = ProcessGroup.FromEnvironment(TimeSpan.FromSeconds(120));
        int ranks = group.Size;
        foreach ((string name, NormalRun run) in NormalCases.Suite)
        {
            NormalCase c = run.Case;
            // The worst-case dispatch of the scenario receives Tokens * Ranks + 1 rows: size for one token more per rank.
            long nvlBytes = EpBuffer.GetDispatchConfig(ranks).GetNvlBufferSizeHint(c.Hidden * 2L, ranks, c.Tokens + 1, c.Topk);
            using EpBuffer buffer = KernelsBuffer(group, nvlBytes);
            Write(folder!, group.Rank, $"normal.{name}", NormalScenario.Run(buffer, Fit(run, ranks)));
        }
        foreach ((string name, LowLatencyCase c) in LowLatencyCases.Suite)
        {
            using EpBuffer buffer = LowLatencyKernelTests.Create(group, c, EpBackendKind.Kernels);
            Write(folder!, group.Rank, $"ll.{name}", LowLatencyScenario.Run(buffer, c));
        }

        // A receive arena too small for the rows: every rank finishes the call, each receiver names numNvlBytes.
        using EpBuffer tight = KernelsBuffer(group, BufferSizeHints.NvlBufferBytes + (64 * 1024));
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(
            () => NormalScenario.Run(tight, Fit(new NormalRun(new NormalCase(256, 2048, 16, 4, Seed: 3)), ranks)));
        Assert.Contains("numNvlBytes", error.Message);
    }

    private static NormalRun Fit(NormalRun run, int ranks) => run with { NumSms = GpuRanks.NumSms(ranks, run.NumSms) };

    private static Dictionary<string, byte[]> Prefix<T>(string prefix, IReadOnlyDictionary<string, T> cases, Func<T, Dictionary<string, byte[]>> run)
    {
        var all = new Dictionary<string, byte[]>();
        foreach ((string name, T c) in cases)
        {
            foreach ((string snapshot, byte[] bytes) in run(c))
            {
                all[$"{prefix}.{name}.{snapshot}"] = bytes;
            }
        }
        return all;
    }

    private static EpBuffer KernelsBuffer(ProcessGroup group, long nvlBytes) =>
        new(group, nvlBytes, options: new EpBufferOptions { Backend = EpBackendKind.Kernels, Timeout = TimeSpan.FromSeconds(60) });

    private static void Write(string folder, int rank, string prefix, Dictionary<string, byte[]> snapshots)
    {
        foreach ((string name, byte[] bytes) in snapshots)
        {
            File.WriteAllBytes(SnapshotPath(folder, rank, $"{prefix}.{name}"), bytes);
        }
    }

    private static byte[] Read(string folder, int rank, string name)
    {
        string path = SnapshotPath(folder, rank, name);
        return File.Exists(path) ? File.ReadAllBytes(path) : [];
    }

    private static string SnapshotPath(string folder, int rank, string name) =>
        Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"rank{rank}.{name}"));
}
