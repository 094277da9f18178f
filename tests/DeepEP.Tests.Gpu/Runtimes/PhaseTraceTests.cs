using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Runtimes;

/// <summary>
/// The phase timers (<see cref="PhaseTrace"/>, <c>deepep bench --phases</c>): low-latency cases run with the timers built
/// in still match the CPU reference byte for byte, and each kernel's sums grew in the phases it marks and nowhere else,
/// over a whole number of block runs per rank.
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
        Dictionary<string, PhaseTotals> before, after;
        PhaseTrace.Enabled = true;
        try
        {
            before = Totals();
            LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Suite["t64-h7168-fp8"]);
            LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Suite["t50-h7168-fp8-round-hook"]);
            after = Totals();
        }
        finally
        {
            PhaseTrace.Enabled = false;
        }

        Expect(before, after, ranks, "low_latency_dispatch<", busy: ["send", "arrive", "wait", "copy"], marked: ["select"]);
        Expect(before, after, ranks, "low_latency_combine<", busy: ["send", "arrive", "wait", "reduce"], marked: []);
        Expect(before, after, ranks, "low_latency_dispatch_send<", busy: ["send", "arrive"], marked: []);
        Expect(before, after, ranks, "low_latency_dispatch_recv<", busy: ["wait", "copy"], marked: ["select"]);
        Expect(before, after, ranks, "low_latency_combine_send<", busy: ["send", "arrive"], marked: []);
        Expect(before, after, ranks, "low_latency_combine_recv<", busy: ["wait", "reduce"], marked: []);
    }

    // The kernel whose expression starts with `prefix` (deep_ep:: stripped): block runs a multiple of the ranks (every rank
    // launches the same grids), more nanoseconds in each `busy` phase, any in `marked` ones, none in the others.
    private static void Expect(Dictionary<string, PhaseTotals> before, Dictionary<string, PhaseTotals> after, int ranks, string prefix, string[] busy, string[] marked)
    {
        PhaseTotals now = Assert.Single(after.Values, t => t.Kernel.StartsWith("deep_ep::" + prefix, StringComparison.Ordinal));
        PhaseTotals? then = before.GetValueOrDefault(now.Kernel);
        long runs = now.BlockRuns - (then?.BlockRuns ?? 0);
        Assert.True(runs > 0 && runs % ranks == 0, $"{now.Kernel}: {runs} block runs over {ranks} ranks");
        for (int phase = 0; phase < s_phases.Length; phase++)
        {
            long added = now.Nanoseconds[phase] - (then?.Nanoseconds[phase] ?? 0);
            string name = s_phases[phase];
            if (busy.Contains(name))
            {
                Assert.True(added > 0 && added / runs < 10_000_000, $"{now.Kernel}: {added} ns in {name} over {runs} block runs");
            }
            else if (!marked.Contains(name))
            {
                Assert.True(added == 0, $"{now.Kernel} never marks {name}, yet {added} ns were added there");
            }
        }
    }

    // One entry per kernel, summed over devices.
    private static Dictionary<string, PhaseTotals> Totals() =>
        PhaseTrace.Read().GroupBy(t => t.Kernel).ToDictionary(g => g.Key, g => new PhaseTotals(
            -1, g.Key, g.Sum(t => t.BlockRuns), [.. Enumerable.Range(0, s_phases.Length).Select(p => g.Sum(t => t.Nanoseconds[p]))]));
}
