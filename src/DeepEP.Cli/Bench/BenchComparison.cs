using System.Globalization;
using Spectre.Console;

namespace DeepEP.Cli.Bench;

/// <summary><c>deepep bench --compare</c>: two backends' results on the same routing, side by side, with the time ratio.</summary>
internal static class BenchComparison
{
    public static void Print(IAnsiConsole console, IReadOnlyList<BenchResult> baseline, IReadOnlyList<BenchResult> other)
    {
        string a = baseline.Count > 0 ? baseline[0].Backend : "baseline";
        string b = other.Count > 0 ? other[0].Backend : "other";
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("operation", $"{a} µs", $"{b} µs", $"{a} GB/s", $"{b} GB/s", $"ratio {b}/{a}", "correct");
        foreach (BenchResult first in baseline)
        {
            if (other.FirstOrDefault(r => r.Operation == first.Operation && r.Mode == first.Mode) is not { } second)
            {
                continue;
            }
            table.AddRow(
                first.Operation,
                Number(first.MeanMicroseconds, "F1"),
                Number(second.MeanMicroseconds, "F1"),
                first.Bytes > 0 ? Number(first.GigabytesPerSecond, "F2") : "-",
                second.Bytes > 0 ? Number(second.GigabytesPerSecond, "F2") : "-",
                first.MeanMicroseconds > 0 ? Number(second.MeanMicroseconds / first.MeanMicroseconds, "F2") : "-",
                first.Correct && second.Correct ? "[green]yes[/]" : "[red]NO[/]");
        }
        console.MarkupLine($"[bold]{Markup.Escape(a)} vs {Markup.Escape(b)}[/] on the same inputs (ratio > 1: {Markup.Escape(b)} is slower)");
        console.Write(table);
    }

    private static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
