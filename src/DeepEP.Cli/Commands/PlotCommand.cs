using System.CommandLine;
using DeepEP.Cli.Bench;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary>
/// <c>deepep plot</c>: draws a saved <c>bench --sweep --json</c> file as a PNG, for machines where the sweep ran
/// without fonts (GPU hosts often have none, and the labels would be missing).
/// </summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var json = new Argument<FileInfo>("sweep") { Description = "The JSON file bench --sweep --json wrote." };
        var output = new Option<FileInfo>("--out") { Description = "The PNG to write.", Required = true };
        var command = new Command("plot", "Draw a saved token sweep (bench --sweep --json) as a PNG.") { json, output };
        command.SetAction(parse =>
        {
            FileInfo source = parse.GetValue(json)!;
            if (!source.Exists)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(source.FullName)} does not exist.[/]");
                return 2;
            }
            (string title, List<(int Tokens, IReadOnlyList<BenchResult> Results)> points) = BenchReport.ReadSweepJson(source.FullName);
            string target = parse.GetValue(output)!.FullName;
            SweepPlot.Save(target, title, points);
            AnsiConsole.MarkupLine($"Wrote [blue]{Markup.Escape(target)}[/].");
            return 0;
        });
        return command;
    }
}
