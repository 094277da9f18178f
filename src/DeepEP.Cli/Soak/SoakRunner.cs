using System.Diagnostics;
using System.Text.Json;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Cli.Soak;

/// <summary>
/// Runs the soak on every rank — one thread per rank in this process, or this process's rank of a group that
/// <c>deepep launch</c> (or torchrun) started — and returns every rank's result.
/// </summary>
internal static class SoakRunner
{
    /// <summary>Ranks as threads of this process; <paramref name="progress"/> gets rank 0's completed iterations.</summary>
    public static SoakResult[] Run(SoakSettings s, Action<int>? progress = null)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(s.Ranks);
        var results = new SoakResult[s.Ranks];
        Thread[] threads = [.. Enumerable.Range(0, s.Ranks).Select(rank => new Thread(() =>
        {
            // Leaving the group at once releases the peers of a rank that failed.
            using ProcessGroup group = groups[rank];
            results[rank] = RunRank(group, s, rank == 0 ? progress : null);
        })
        { Name = $"deepep soak rank {rank}", IsBackground = true })];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        return results;
    }

    /// <summary>
    /// This process's rank of a multi-process group: every rank's result, or only this rank's when a failure broke the
    /// group (then each surviving process reports for itself).
    /// </summary>
    public static SoakResult[] RunAsProcess(ProcessGroup group, SoakSettings s, Action<int>? progress = null)
    {
        SoakResult mine = RunRank(group, s, progress);
        try
        {
            return [.. group.AllGather(JsonSerializer.SerializeToUtf8Bytes(mine)).Select(bytes => JsonSerializer.Deserialize<SoakResult>(bytes)!)];
        }
        catch (ProcessGroupException)
        {
            return [mine];
        }
    }

    private static SoakResult RunRank(ProcessGroup group, SoakSettings s, Action<int>? progress)
    {
        long nvlBytes = EpBuffer.GetDispatchConfig(s.Ranks).GetNvlBufferSizeHint(s.Hidden * 2L, s.Ranks, s.Tokens, s.Topk);
        long rdmaBytes = s.RunsLowLatency ? EpBuffer.GetLowLatencyRdmaSizeHint(s.Tokens, s.Hidden, s.Ranks, s.Experts) : 0;
        var clock = Stopwatch.StartNew();
        int done = 0;
        int failures = 0;
        string? firstFailure = null;
        long warmBytes = 0;
        long devicePoolWarm = 0, devicePoolEnd = 0;
        try
        {
            using var buffer = new EpBuffer(group, nvlBytes, rdmaBytes, lowLatencyMode: s.RunsLowLatency, new EpBufferOptions { Backend = s.Backend });
            CudaDevice? device = buffer.Backend == EpBackendKind.Host ? null : CudaDevice.Get(buffer.Device);
            var iteration = new SoakIteration(buffer, s);
            for (; done < s.Iterations; done++)
            {
                if (done == s.WarmupIterations)
                {
                    warmBytes = ResidentBytes();
                    devicePoolWarm = PoolReservedBytes(device);
                }
                string? wrong = (s.RunsNormal ? iteration.Normal(done) : null) ?? (s.RunsLowLatency ? iteration.LowLatency(done) : null);
                if (wrong is not null)
                {
                    failures++;
                    firstFailure ??= $"iteration {done}: {wrong}";
                }
                progress?.Invoke(done + 1);
            }
            devicePoolEnd = PoolReservedBytes(device);
        }
        catch (Exception e)
        {
            failures++;
            firstFailure ??= $"iteration {done}: {e.GetType().Name}: {e.Message}";
        }
        return new SoakResult(group.Rank, done, failures, firstFailure, warmBytes, ResidentBytes(), clock.Elapsed.TotalSeconds)
        {
            DevicePoolWarmBytes = devicePoolWarm,
            DevicePoolEndBytes = devicePoolEnd,
        };
    }

    // After the device is idle, so that frees still queued on a stream have returned their blocks to the pool.
    private static long PoolReservedBytes(CudaDevice? device)
    {
        if (device is null)
        {
            return 0;
        }
        device.Synchronize();
        return device.PoolReservedBytes;
    }

    // After an aggressive full collection, which also returns free heap pages to the system: garbage not yet collected
    // and pages the GC merely keeps would otherwise show as several percent of noise.
    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using Process self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }
}
