using System.Globalization;
using DeepEP.Runtimes;
using Spectre.Console;

namespace DeepEP.Cli.Bench;

/// <summary>
/// <c>deepep bench --phases</c>: where the traced communication kernels' blocks spent their time, one row per kernel and
/// device, the mean microseconds per block run in each phase over every launch of the bench (warm-ups and checks too).
/// </summary>
internal static class PhaseReport
{
    public static Table Create(IReadOnlyList<PhaseTotals> totals)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title("mean µs per block in each phase (--phases: every launch, every block)");
        table.AddColumn(new TableColumn("kernel"));
        table.AddColumn(new TableColumn("GPU").RightAligned());
        table.AddColumn(new TableColumn("block runs").RightAligned());
        foreach (string phase in PhaseTrace.Phases)
        {
            table.AddColumn(new TableColumn(phase).RightAligned());
        }
        table.AddColumn(new TableColumn("sum").RightAligned());
        foreach (PhaseTotals kernel in totals.Where(t => t.BlockRuns > 0).OrderBy(t => t.Kernel, StringComparer.Ordinal).ThenBy(t => t.Device))
        {
            var cells = new List<string> { Markup.Escape(ShortName(kernel.Kernel)), Invariant(kernel.Device), Invariant(kernel.BlockRuns) };
            double sum = 0;
            for (int phase = 0; phase < PhaseTrace.Phases.Count; phase++)
            {
                double us = kernel.MicrosecondsPerBlock(phase);
                sum += us;
                cells.Add(kernel.Nanoseconds[phase] == 0 ? "–" : us.ToString("0.00", CultureInfo.InvariantCulture));
            }
            cells.Add(sum.ToString("0.00", CultureInfo.InvariantCulture));
            table.AddRow(cells.ToArray());
        }
        if (table.Rows.Count == 0)
        {
            table.AddRow(["no traced kernel ran (the timers are in the communication kernels of the kernels backend)", .. Enumerable.Repeat("", PhaseTrace.Phases.Count + 3)]);
        }
        return table;
    }

    /// <summary><c>deep_ep::low_latency_dispatch&lt;7168, true, false, false&gt;</c> → <c>low_latency_dispatch&lt;7168, true, false, false&gt;</c>.</summary>
    public static string ShortName(string expression) =>
        expression.StartsWith("deep_ep::", StringComparison.Ordinal) ? expression["deep_ep::".Length..] : expression;

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
