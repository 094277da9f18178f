using System.Diagnostics;
using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;
using DeepEP.Tests.Reliability;

namespace DeepEP.Tests.Gpu.Reliability;

/// <summary>
/// What one rank ended with: its exception (null if it finished), the step it was in, the time from the start of its
/// script, and (shrink) its mask after the run and whether cleaning the mask cleared it.
/// </summary>
internal sealed record GpuRankReport(Exception? Error, FaultStep Reached, TimeSpan Elapsed, int[] Mask, bool Unmasked);

/// <summary>
/// Runs the host matrix's <see cref="FaultScript"/> on a GPU backend, ranks as threads on the visible GPUs
/// (<see cref="RankHarness"/>, whose hang limit fails the test instead of hanging, and which fails it when a buffer does
/// not dispose cleanly). A stalled faulty rank parks with its buffer alive until every survivor has finished: freeing its
/// memory earlier would race with the survivors' kernels. A first run without a fault compiles the kernels, which takes
/// longer than the short deadline.
/// </summary>
internal static class GpuFaultRun
{
    private static readonly HashSet<(EpBackendKind, int)> Warm = [];

    public static GpuRankReport[] Run(int ranks, EpBackendKind backend, FaultCase fault, TimeSpan timeout, bool shrink = false)
    {
        lock (Warm)
        {
            if (Warm.Add((backend, ranks)))
            {
                GpuRankReport[] clean = RunOnce(ranks, backend, new FaultCase(FaultStep.Layout, FaultKind.Stall, FaultyRank: -1), TimeSpan.FromSeconds(60), shrink: false);
                Assert.All(clean, r => Assert.Null(r.Error));
            }
        }
        return RunOnce(ranks, backend, fault, timeout, shrink);
    }

    private static GpuRankReport[] RunOnce(int ranks, EpBackendKind backend, FaultCase fault, TimeSpan timeout, bool shrink)
    {
        using var release = new ManualResetEventSlim();
        using var survivorsLeft = new CountdownEvent(fault.FaultyRank < 0 ? ranks : ranks - 1);
        var config = new EpConfig(GpuRanks.NumSms(ranks, 20), 6, 256);
        long rdmaBytes = EpBuffer.GetLowLatencyRdmaSizeHint(FaultScript.Tokens, 2 * FaultScript.Hidden, ranks, FaultScript.Experts(ranks));
        return RankHarness.Run(ranks, backend, (group, _) => new EpBuffer(group, 1L << 28, rdmaBytes, lowLatencyMode: true,
            new EpBufferOptions { Backend = backend, Timeout = timeout, EnableShrink = shrink }), buffer =>
        {
            var script = new FaultScript(fault, buffer.Rank, config);
            var clock = Stopwatch.StartNew();
            Exception? error = null;
            try
            {
                script.Run(buffer, faulty: null, clock, release.Wait);
                FaultScript.Settle(buffer);
            }
            catch (Exception e)
            {
                error = e;
            }
            TimeSpan elapsed = clock.Elapsed;
            if (buffer.Rank != fault.FaultyRank && survivorsLeft.Signal())
            {
                release.Set();
            }
            if (!shrink || error is not null)
            {
                return new GpuRankReport(error, script.Reached, elapsed, [], Unmasked: false);
            }
            int[] mask = FaultScript.Mask(buffer);
            buffer.LowLatencyCleanMaskBuffer();
            return new GpuRankReport(error, script.Reached, elapsed, mask, FaultScript.Mask(buffer).All(m => m == 0));
        });
    }
}
