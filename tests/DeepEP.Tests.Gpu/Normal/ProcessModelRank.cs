using System.Globalization;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Ep.Heuristics;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// One rank of <see cref="ProcessModelKernelTests"/>, run as a program: the test executable started with
/// <see cref="Argument"/> and a folder (see <see cref="Program"/>) joins the process group from the launcher's
/// environment, runs every normal-mode and low-latency case of the suite on the kernels backend, writes its snapshots
/// to the folder, and checks that a receive arena too small for the rows is reported on every rank.
/// </summary>
internal static class ProcessModelRank
{
    /// <summary>The first argument that makes the test executable a rank instead of a test runner.</summary>
    public const string Argument = "--process-model-rank";

    /// <summary>The command the launcher starts for each rank, writing its snapshots to <paramref name="folder"/>.</summary>
    public static string[] Command(string folder) =>
        LaunchedRanks.Beside(typeof(ProcessModelRank).Assembly.GetName().Name!, Argument, folder);

    /// <summary>Runs this rank; 0 on success, else 1 with the error on standard error.</summary>
    public static int Run(string folder)
    {
        try
        {
            RunCases(folder);
            return 0;
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Console.Error.WriteLine(error);
            return 1;
        }
    }

    /// <summary>The SM count of <paramref name="run"/> capped at this rank's share of its GPU.</summary>
    public static NormalRun Fit(NormalRun run, int ranks) => run with { NumSms = GpuRanks.NumSms(ranks, run.NumSms) };

    /// <summary>The snapshot a rank wrote, or no bytes when it wrote none.</summary>
    public static byte[] Read(string folder, int rank, string name)
    {
        string path = SnapshotPath(folder, rank, name);
        return File.Exists(path) ? File.ReadAllBytes(path) : [];
    }

    private static void RunCases(string folder)
    {
        using ProcessGroup group = ProcessGroup.FromEnvironment(TimeSpan.FromSeconds(120));
        int ranks = group.Size;
        foreach ((string name, NormalRun run) in NormalCases.Suite)
        {
            NormalCase c = run.Case;
            // The worst-case dispatch of the scenario receives Tokens * Ranks + 1 rows: size for one token more per rank.
            long nvlBytes = EpBuffer.GetDispatchConfig(ranks).GetNvlBufferSizeHint(c.Hidden * 2L, ranks, c.Tokens + 1, c.Topk);
            using EpBuffer buffer = KernelsBuffer(group, nvlBytes);
            Write(folder, group.Rank, $"normal.{name}", NormalScenario.Run(buffer, Fit(run, ranks)));
        }
        foreach ((string name, LowLatencyCase c) in LowLatencyCases.Suite)
        {
            using EpBuffer buffer = LowLatencyKernelTests.Create(group, c, EpBackendKind.Kernels);
            Write(folder, group.Rank, $"ll.{name}", LowLatencyScenario.Run(buffer, c));
        }

        // A receive arena too small for the rows: every rank finishes the call, each receiver names numNvlBytes.
        using EpBuffer tight = KernelsBuffer(group, BufferSizeHints.NvlBufferBytes + (64 * 1024));
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(
            () => NormalScenario.Run(tight, Fit(new NormalRun(new NormalCase(256, 2048, 16, 4, Seed: 3)), ranks)));
        Assert.Contains("numNvlBytes", error.Message);
        CheckArenaSlots(group);

        // The work of one dispatch and combine (WorkComparison holds it against ranks as threads).
        NormalCase work = NormalWork.Case;
        using EpBuffer measured = KernelsBuffer(group, EpBuffer.GetDispatchConfig(ranks).GetNvlBufferSizeHint(work.Hidden * 2L, ranks, work.Tokens, work.Topk));
        (DeviceWork dispatch, DeviceWork combine, long rows) = NormalWork.Measure(measured, GpuRanks.NumSms(ranks, 24));
        File.WriteAllText(SnapshotPath(folder, group.Rank, "work"), $"{rows}\n--\n{dispatch.Describe()}\n--\n{combine.Describe()}");
    }

    /// <summary>The work a rank measured (see <see cref="NormalWork"/>).</summary>
    public static (DeviceWork Dispatch, DeviceWork Combine, long Rows) ReadWork(string folder, int rank)
    {
        string[] parts = File.ReadAllText(SnapshotPath(folder, rank, "work")).Split("\n--\n");
        return (DeviceWork.Parse(parts[1]), DeviceWork.Parse(parts[2]), long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Dispatch outputs view slots of the receive arena: a combine of <see cref="EpBuffer.GetCombineInputBuffer"/> (in
    /// place) equals one of a copy of the same rows (staged); a disposed result frees its slot; a dispatch while all
    /// three slots are held fails on every rank, naming the holders, instead of overwriting a live result.
    /// </summary>
    private static void CheckArenaSlots(ProcessGroup group)
    {
        int ranks = group.Size;
        var c = new NormalCase(96, 1024, 16, 4, Seed: 11);
        RankInputs inputs = c.For(group.Rank);
        using EpBuffer buffer = KernelsBuffer(group, EpBuffer.GetDispatchConfig(ranks).GetNvlBufferSizeHint(c.Hidden * 2L, ranks, c.Tokens, c.Topk));
        int device = buffer.Device;
        var config = new EpConfig(GpuRanks.NumSms(ranks, 24), 6, 256);
        using DeviceTensor x = inputs.XOn(device);
        using DeviceTensor topk = inputs.TopkOn(device);
        using DeviceTensor weights = inputs.WeightsOn(device);
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, c.Experts);
        DispatchResult Dispatch() => buffer.Dispatch(x, layout, topkIdx: topk, topkWeights: weights, config: config);

        DispatchResult first = Dispatch();
        byte[] firstRows = NormalScenarioSetUp.Bytes(first.RecvX);
        using DispatchHandle handle = first.Handle!;
        using (DeviceTensor input = buffer.GetCombineInputBuffer(handle, c.Hidden))
        using (DeviceTensor copy = first.RecvX.To(device))
        {
            input.CopyFrom<byte>(firstRows);
            using CombineResult inPlace = buffer.Combine(input, handle, topkWeights: first.RecvTopkWeights, config: config);
            using CombineResult staged = buffer.Combine(copy, handle, topkWeights: first.RecvTopkWeights, config: config);
            Assert.Equal(NormalScenarioSetUp.Bytes(staged.CombinedX), NormalScenarioSetUp.Bytes(inPlace.CombinedX));
            Assert.Equal(NormalScenarioSetUp.Bytes(staged.CombinedTopkWeights!), NormalScenarioSetUp.Bytes(inPlace.CombinedTopkWeights!));
        }

        var held = new List<DispatchResult> { first, Dispatch(), Dispatch() };
        held[0].Dispose();
        held[0] = Dispatch();
        Assert.Equal(firstRows, NormalScenarioSetUp.Bytes(held[0].RecvX));
        InvalidOperationException full = Assert.Throws<InvalidOperationException>(() => Dispatch());
        Assert.Contains("all 3 are held", full.Message);
        Assert.Contains("Dispose", full.Message);
        held.ForEach(result => result.Dispose());
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

    private static string SnapshotPath(string folder, int rank, string name) =>
        Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"rank{rank}.{name}"));
}
