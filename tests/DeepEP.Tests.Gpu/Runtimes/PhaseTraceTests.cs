using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Runtimes;

/// <summary>
/// The phase timers (<see cref="PhaseTrace"/>, <c>deepep bench --phases</c>): low-latency and normal-mode cases run with
/// the timers built in still match the CPU reference byte for byte, and each kernel's sums grew in the phases it marks
/// and nowhere else, over a whole number of block runs per rank.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class PhaseTraceTests(GpuFixture gpu)
{
    private static readonly string[] s_phases = [.. PhaseTrace.Phases];

    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void TracedKernelsMatchTheReferenceAndFillTheirPhases(int ranks)
    {
        gpu.Require();
        (Dictionary<string, PhaseTotals> before, Dictionary<string, PhaseTotals> after) = Traced(() =>
        {
            LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Suite["t64-h7168-fp8"]);
            LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Suite["t50-h7168-fp8-round-hook"]);
        });

        Expect(before, after, ranks, "low_latency_dispatch<", busy: ["send", "arrive", "wait", "copy"], marked: ["select"]);
        Expect(before, after, ranks, "low_latency_combine<", busy: ["send", "arrive", "wait", "reduce"], marked: []);
        Expect(before, after, ranks, "low_latency_dispatch_send<", busy: ["send", "arrive"], marked: []);
        Expect(before, after, ranks, "low_latency_dispatch_recv<", busy: ["wait", "copy"], marked: ["select"]);
        Expect(before, after, ranks, "low_latency_combine_send<", busy: ["send", "arrive"], marked: []);
        Expect(before, after, ranks, "low_latency_combine_recv<", busy: ["wait", "reduce"], marked: []);
    }

    /// <summary>
    /// The normal-mode kernels with the timers built in match the reference too. The copy kernels end with their own
    /// exit barrier, so a normal-mode call launches no barrier kernel.
    /// </summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void TracedNormalKernelsMatchTheReferenceAndFillTheirPhases(int ranks)
    {
        gpu.Require();
        (Dictionary<string, PhaseTotals> before, Dictionary<string, PhaseTotals> after) = Traced(
            () => BackendComparison.MatchesReference(EpBackendKind.Kernels, ranks, NormalCases.Suite["t512-h7168-e256-k8"]));

        Expect(before, after, ranks, "notify_dispatch", busy: ["barrier"], marked: ["send", "reduce", "publish"]);
        Expect(before, after, ranks, "intranode_dispatch<", busy: ["barrier", "copy"], marked: []);
        Expect(before, after, ranks, "intranode_combine<", busy: ["barrier", "reduce"], marked: []);
        Assert.Equal(0, Added(before, after, "barrier").Runs);
    }

    // The kernels whose expressions start with `prefix` (deep_ep:: stripped), summed: block runs a multiple of the ranks
    // (every rank launches the same grids), more nanoseconds in each `busy` phase, any in `marked` ones, none in the others.
    private static void Expect(Dictionary<string, PhaseTotals> before, Dictionary<string, PhaseTotals> after, int ranks, string prefix, string[] busy, string[] marked)
    {
        (long runs, long[] added) = Added(before, after, prefix);
        Assert.True(runs > 0 && runs % ranks == 0, $"{prefix}: {runs} block runs over {ranks} ranks");
        for (int phase = 0; phase < s_phases.Length; phase++)
        {
            string name = s_phases[phase];
            if (busy.Contains(name))
            {
                Assert.True(added[phase] > 0 && added[phase] / runs < 10_000_000, $"{prefix}: {added[phase]} ns in {name} over {runs} block runs");
            }
            else if (!marked.Contains(name))
            {
                Assert.True(added[phase] == 0, $"{prefix} never marks {name}, yet {added[phase]} ns were added there");
            }
        }
    }

    // Block runs and nanoseconds per phase added between the two readings, over every kernel whose expression starts with `prefix`.
    private static (long Runs, long[] Nanoseconds) Added(Dictionary<string, PhaseTotals> before, Dictionary<string, PhaseTotals> after, string prefix)
    {
        long runs = 0;
        long[] added = new long[s_phases.Length];
        foreach (PhaseTotals now in after.Values.Where(t => t.Kernel.StartsWith("deep_ep::" + prefix, StringComparison.Ordinal)))
        {
            PhaseTotals? then = before.GetValueOrDefault(now.Kernel);
            runs += now.BlockRuns - (then?.BlockRuns ?? 0);
            for (int phase = 0; phase < added.Length; phase++)
            {
                added[phase] += now.Nanoseconds[phase] - (then?.Nanoseconds[phase] ?? 0);
            }
        }
        return (runs, added);
    }

    // The sums before and after `run`, with the timers built into every kernel it compiles.
    private static (Dictionary<string, PhaseTotals> Before, Dictionary<string, PhaseTotals> After) Traced(Action run)
    {
        PhaseTrace.Enabled = true;
        try
        {
            Dictionary<string, PhaseTotals> before = Totals();
            run();
            return (before, Totals());
        }
        finally
        {
            PhaseTrace.Enabled = false;
        }
    }

    // One entry per kernel, summed over devices.
    private static Dictionary<string, PhaseTotals> Totals() =>
        PhaseTrace.Read().GroupBy(t => t.Kernel).ToDictionary(g => g.Key, g => new PhaseTotals(
            -1, g.Key, g.Sum(t => t.BlockRuns), [.. Enumerable.Range(0, s_phases.Length).Select(p => g.Sum(t => t.Nanoseconds[p]))]));
}
