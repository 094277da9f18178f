using System.Text.Json;
using DeepEP.Distributed;
using DeepEP.Ep;

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

    public static IReadOnlyList<BenchResult> Run(BenchSettings s, Action<string>? progress = null)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(s.Ranks);
        var perRank = new IReadOnlyList<RankMeasurement>[s.Ranks];
        var failures = new Exception?[s.Ranks];
        var threads = new Thread[s.Ranks];
        for (int r = 0; r < s.Ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    perRank[rank] = RunRank(groups[rank], s, rank == 0 ? progress : null);
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
        return Merge(perRank, s);
    }

    private static IReadOnlyList<RankMeasurement> RunRank(ProcessGroup group, BenchSettings s, Action<string>? progress)
    {
        // Sized for either process model: one process per GPU stages received rows in the buffer.
        long nvlBytes = Math.Max(s.DispatchConfig.GetNvlBufferSizeHint(s.Hidden * 2L, s.Ranks, s.Tokens, s.Topk), s.CombineConfig.GetNvlBufferSizeHint(s.Hidden * 2L, s.Ranks, s.Tokens, s.Topk));
        long rdmaBytes = s.Mode == BenchMode.Normal ? 0 : EpBuffer.GetLowLatencyRdmaSizeHint(s.LowLatencyTokens, s.Hidden, s.Ranks, s.LowLatencyExperts);
        // Expert ids are generated valid; checking them would copy topk to the host inside every timed call.
        var options = new EpBufferOptions { Backend = s.Backend, ValidateExpertIds = false };
        using var buffer = new EpBuffer(group, nvlBytes, rdmaBytes, lowLatencyMode: s.Mode != BenchMode.Normal, options);
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
