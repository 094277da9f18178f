using System.CommandLine;
using System.Text.Json;
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
            CliUsageException.ThrowIf(source.Exists ? null : $"{source.FullName} does not exist.");
            (string title, List<(int Tokens, IReadOnlyList<BenchResult> Results)> points) = Read(source.FullName);
            string target = parse.GetValue(output)!.FullName;
            SweepPlot.Save(target, title, points);
            AnsiConsole.MarkupLine($"Wrote [blue]{Markup.Escape(target)}[/].");
            return 0;
        });
        return command;
    }

    /// <summary>Reads the sweep, or says in one line why the file is not one.</summary>
    private static (string Title, List<(int Tokens, IReadOnlyList<BenchResult> Results)> Points) Read(string path)
    {
        try
        {
            var sweep = BenchReport.ReadSweepJson(path);
            CliUsageException.ThrowIf(sweep.Points.Count == 0 ? $"{path} holds a sweep with no points; nothing to draw." : null);
            return sweep;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException or FormatException)
        {
            throw new CliUsageException($"{path} is not a sweep written by bench --sweep --json: {e.Message}", e);
        }
    }
}
