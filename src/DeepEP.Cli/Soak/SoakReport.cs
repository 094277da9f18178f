using System.Globalization;
using Spectre.Console;

namespace DeepEP.Cli.Soak;

/// <summary>The summary table of a soak run and its verdict.</summary>
internal static class SoakReport
{
    /// <summary>True when every rank finished every iteration without a failure and memory stayed within the limit.</summary>
    public static bool Passed(SoakSettings s, IReadOnlyList<SoakResult> results) =>
        results.All(r => r.Iterations == s.Iterations && r.Failures == 0 && r.MemoryGrowth <= s.MaxMemoryGrowth && !r.DevicePoolGrew);

    public static void Print(IAnsiConsole console, SoakSettings s, IReadOnlyList<SoakResult> results)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("rank", "iterations", "failures", "host RSS warm MiB", "host RSS end MiB", "growth", "device pool warm MiB", "device pool end MiB", "seconds", "ms/iteration");
        foreach (SoakResult r in results)
        {
            bool grew = r.MemoryGrowth > s.MaxMemoryGrowth;
            table.AddRow(
                r.Rank.ToString(CultureInfo.InvariantCulture),
                $"{r.Iterations}/{s.Iterations}",
                r.Failures == 0 ? "[green]0[/]" : $"[red]{r.Failures}[/]",
                r.WarmBytes > 0 ? Mebibytes(r.WarmBytes) : "-",
                Mebibytes(r.EndBytes),
                r.WarmBytes > 0 ? $"{(grew ? "[red]" : "[green]")}{r.MemoryGrowth * 100:+0.0;-0.0} %[/]" : "-",
                r.DevicePoolWarmBytes > 0 ? Mebibytes(r.DevicePoolWarmBytes) : "-",
                r.DevicePoolEndBytes > 0 ? $"{(r.DevicePoolGrew ? "[red]" : "")}{Mebibytes(r.DevicePoolEndBytes)}{(r.DevicePoolGrew ? "[/]" : "")}" : "-",
                r.Seconds.ToString("F1", CultureInfo.InvariantCulture),
                r.Iterations > 0 ? (r.Seconds * 1000 / r.Iterations).ToString("F2", CultureInfo.InvariantCulture) : "-");
        }
        console.Write(table);
        foreach (SoakResult r in results.Where(r => r.FirstFailure is not null))
        {
            console.MarkupLine($"[red]rank {r.Rank}: {Markup.Escape(r.FirstFailure!)}[/]");
        }
        console.MarkupLine(Passed(s, results)
            ? $"[green]PASS[/]: {s.Iterations} iterations on every rank, no failure, resident memory within {s.MaxMemoryGrowth * 100:0} % of the warm figure{(results.Any(r => r.DevicePoolWarmBytes > 0) ? ", no growth of the device pool" : "")}."
            : $"[red]FAIL[/]: see the failures and the growth columns (limit {s.MaxMemoryGrowth * 100:0} % of resident memory and no device pool growth after {s.WarmupIterations} warm-up iterations).");
    }

    private static string Mebibytes(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F1", CultureInfo.InvariantCulture);
}
