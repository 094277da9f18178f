using System.Text.Json;
using DeepEP.Cli.Bench.Fused;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Runs the benchmark on every rank — one thread per rank in this process, or this process's rank of a group that
/// <c>deepep launch</c> (or torchrun) started — and merges what the ranks measured.
/// </summary>
internal static class BenchRunner
{
    /// <summary>This process's rank of a multi-process group; every rank gets the merged results.</summary>
    public static IReadOnlyList<BenchResult> RunAsProcess(ProcessGroup group, BenchSettings s, Action<string>? progress = null)
    {
        IReadOnlyList<RankMeasurement> mine = RunRank(group, s, group.Rank == 0 ? progress : null);
        byte[][] all = group.AllGather(JsonSerializer.SerializeToUtf8Bytes(mine));
        return Merge(all.Select(bytes => (IReadOnlyList<RankMeasurement>)JsonSerializer.Deserialize<List<RankMeasurement>>(bytes)!).ToArray(), s);
    }

    public static IReadOnlyList<BenchResult> Run(BenchSettings s, Action<string>? progress = null) =>
        Merge(OnEveryRank(s.Ranks, (group, first) => RunRank(group, s, first ? progress : null)), s);

    /// <summary>
    /// The fused bench (<see cref="BenchMode.Fused"/>): the layer on every rank as threads, merged, then on a GPU
    /// backend the grouped GEMMs alone on GPU 0.
    /// </summary>
    public static (IReadOnlyList<FusedResult> Layer, IReadOnlyList<FusedResult> Gemms) RunFused(BenchSettings s, Action<string>? progress = null)
    {
        List<FusedResult> layer = FusedResult.Merge(OnEveryRank(s.Ranks, (group, first) => FusedMoeBench.Run(group, s, first ? progress : null)), s);
        return (layer, s.Backend == EpBackendKind.Host ? [] : GroupedGemmBench.Run(s, 0, progress));
    }

    /// <summary>This process's rank of a multi-process group in fused mode; every rank gets the merged layer rows, rank 0 also runs the GEMMs alone.</summary>
    public static (IReadOnlyList<FusedResult> Layer, IReadOnlyList<FusedResult> Gemms) RunFusedAsProcess(ProcessGroup group, BenchSettings s)
    {
        IReadOnlyList<FusedMeasurement> mine = FusedMoeBench.Run(group, s, null);
        byte[][] all = group.AllGather(JsonSerializer.SerializeToUtf8Bytes(mine));
        List<FusedResult> layer = FusedResult.Merge([.. all.Select(bytes => (IReadOnlyList<FusedMeasurement>)JsonSerializer.Deserialize<List<FusedMeasurement>>(bytes)!)], s);
        return (layer, s.Backend == EpBackendKind.Host || group.Rank != 0 ? [] : GroupedGemmBench.Run(s, 0, null));
    }

    // Runs `body` on one thread per rank of an in-process group (the first rank told so), and returns what each returned.
    private static T[] OnEveryRank<T>(int ranks, Func<ProcessGroup, bool, T> body)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
        var perRank = new T[ranks];
        var failures = new Exception?[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    perRank[rank] = body(groups[rank], rank == 0);
                }
                catch (Exception e)
                {
                    failures[rank] = e;
                }
            })
            { Name = $"deepep rank {rank}", IsBackground = true };
            threads[r].Start();
        }
        foreach (Thread t in threads)
        {
            t.Join();
        }
        foreach (ProcessGroup g in groups)
        {
            g.Dispose();
        }
        Exception[] errors = failures.OfType<Exception>().ToArray();
        if (errors.Length > 0)
        {
            throw new AggregateException("The benchmark failed on at least one rank.", errors);
        }
        return perRank;
    }

    private static IReadOnlyList<RankMeasurement> RunRank(ProcessGroup group, BenchSettings s, Action<string>? progress)
    {
        // Sized for either process model: one process per GPU stages received rows in the buffer.
        long nvlBytes = Math.Max(s.DispatchConfig.GetNvlBufferSizeHint(s.Hidden * 2L, s.Ranks, s.Tokens, s.Topk), s.CombineConfig.GetNvlBufferSizeHint(s.Hidden * 2L, s.Ranks, s.Tokens, s.Topk));
        long rdmaBytes = s.Mode == BenchMode.Normal ? 0 : EpBuffer.GetLowLatencyRdmaSizeHint(s.LowLatencyTokens, s.Hidden, s.Ranks, s.LowLatencyExperts);
        // Expert ids are generated valid; checking them would copy topk to the host inside every timed call.
        var options = new EpBufferOptions { Backend = s.Backend, ValidateExpertIds = false };
        using var buffer = new EpBuffer(group, nvlBytes, rdmaBytes, lowLatencyMode: s.Mode != BenchMode.Normal, options);
        if (buffer.Device != DeviceTensor.HostDevice)
        {
            // As a PyTorch thread after torch.cuda.set_device: with the context current, each driver call only checks
            // it instead of switching to it and back (two more driver calls each time).
            CudaDevice.Get(buffer.Device).MakeCurrent();
        }
        var measurements = new List<RankMeasurement>();
        if (s.Mode != BenchMode.LowLatency)
        {
            progress?.Invoke("normal mode");
            measurements.AddRange(NormalModeBench.Run(buffer, s));
        }
        if (s.Mode != BenchMode.Normal)
        {
            progress?.Invoke("low-latency mode");
            measurements.AddRange(LowLatencyBench.Run(buffer, s));
        }
        return measurements;
    }

    private static List<BenchResult> Merge(IReadOnlyList<RankMeasurement>[] perRank, BenchSettings s)
    {
        var results = new List<BenchResult>();
        for (int i = 0; i < perRank[0].Count; i++)
        {
            RankMeasurement first = perRank[0][i];
            RankMeasurement[] all = perRank.Select(m => m[i]).ToArray();
            Timing timing = Timing.Merge(all.Select(m => m.Timing));
            RankMeasurement? wrong = all.FirstOrDefault(m => !m.Correct);
            string check = wrong is null ? first.Check : $"rank {Array.IndexOf(all, wrong)}: {wrong.Check}";
            results.Add(new BenchResult(first.Operation, first.Mode, s.Backend.ToString().ToLowerInvariant(), s.Ranks, first.Sms,
                timing.Mean, timing.Min, timing.Max, first.Bytes, wrong is null, check));
        }
        return results;
    }
}
