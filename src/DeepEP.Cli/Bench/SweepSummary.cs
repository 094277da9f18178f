using System.Globalization;
using Spectre.Console;

namespace DeepEP.Cli.Bench;

/// <summary>
/// The one table a token sweep ends with: a row per token count, a column per headline operation (GB/s in normal
/// mode, mean µs per call in low-latency mode, where latency is what decode cares about), and whether every check held.
/// </summary>
internal static class SweepSummary
{
    /// <summary>The low-latency operations summarised, where present (the JSON has every one).</summary>
    private static readonly string[] LowLatencyHeadlines = ["dispatch FP8", "combine BF16", "dispatch + combine", "dispatch + combine (CUDA graph)"];

    public static Table Create(IReadOnlyList<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep)
    {
        IReadOnlyList<BenchResult> first = sweep[0].Results;
        bool latency = first.All(r => r.Mode == "low-latency");
        string[] operations = latency
            ? LowLatencyHeadlines.Where(o => first.Any(r => r.Operation == o)).ToArray()
            : first.Where(r => r.Bytes > 0).Select(r => r.Operation).ToArray();
        var table = new Table().Border(TableBorder.Rounded).AddColumn(new TableColumn("tokens/rank").RightAligned());
        foreach (string operation in operations)
        {
            table.AddColumn(new TableColumn($"{operation} {(latency ? "µs" : "GB/s")}").RightAligned());
        }
        table.AddColumn("correct");
        foreach ((int tokens, IReadOnlyList<BenchResult> results) in sweep)
        {
            var cells = new List<string> { tokens.ToString(CultureInfo.InvariantCulture) };
            foreach (string operation in operations)
            {
                BenchResult? r = results.FirstOrDefault(x => x.Operation == operation);
                double? value = latency ? r?.MeanMicroseconds : r?.GigabytesPerSecond;
                cells.Add(value?.ToString(latency ? "F1" : "F2", CultureInfo.InvariantCulture) ?? "-");
            }
            BenchResult? wrong = results.FirstOrDefault(r => !r.Correct);
            cells.Add(wrong is null ? "[green]✓[/]" : $"[red]✗ {Markup.Escape(wrong.Operation)}: {Markup.Escape(wrong.Check)}[/]");
            table.AddRow(cells.ToArray());
        }
        return table;
    }
}
