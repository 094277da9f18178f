using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace DeepEP.Cli.Bench;

/// <summary>Prints benchmark results as a table and writes them as JSON.</summary>
internal static class BenchReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Converters = { new JsonStringEnumConverter() } };

    public static void Print(IAnsiConsole console, BenchSettings s, IReadOnlyList<BenchResult> results)
    {
        console.MarkupLine(
            $"[bold]deepep bench[/] backend [green]{s.Backend.ToString().ToLowerInvariant()}[/], {s.Ranks} ranks, " +
            $"normal: {s.Tokens} tokens/rank, low-latency: {s.LowLatencyTokens} tokens/rank, hidden {s.Hidden}, top-{s.Topk} of {s.Experts}/{s.LowLatencyExperts} experts");
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("mode", "operation", "SMs", "mean µs", "min µs", "max µs", "GB/s", "correct", "check");
        foreach (BenchResult r in results)
        {
            table.AddRow(
                r.Mode,
                r.Operation,
                r.Sms > 0 ? r.Sms.ToString(CultureInfo.InvariantCulture) : "-",
                Format(r.MeanMicroseconds),
                Format(r.MinMicroseconds),
                Format(r.MaxMicroseconds),
                r.Bytes > 0 ? r.GigabytesPerSecond.ToString("F2", CultureInfo.InvariantCulture) : "-",
                r.Correct ? "[green]yes[/]" : "[red]NO[/]",
                Markup.Escape(r.Check));
        }
        console.Write(table);
        console.MarkupLine("[grey]GB/s counts bytes as upstream DeepEP does: received rows including the local rank's (normal), selections × message size (low-latency).[/]");
    }

    public static void WriteJson(string path, BenchSettings s, IReadOnlyList<BenchResult> results) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new { settings = s, results = results.Select(Row) }, JsonOptions));

    public static void WriteSweepJson(string path, BenchSettings s, IReadOnlyList<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep) =>
        File.WriteAllText(path, JsonSerializer.Serialize(
            new { settings = s, sweep = sweep.Select(point => new { tokensPerRank = point.Tokens, results = point.Results.Select(Row) }) }, JsonOptions));

    /// <summary>Reads back what <see cref="WriteSweepJson"/> wrote: a title line from the settings, and the points.</summary>
    public static (string Title, List<(int Tokens, IReadOnlyList<BenchResult> Results)> Points) ReadSweepJson(string path)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("sweep", out _))
        {
            throw new InvalidDataException(document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("results", out _)
                ? "it is a plain bench --json file, with no \"sweep\" list"
                : "it has no \"sweep\" list");
        }
        JsonElement settings = document.RootElement.GetProperty("settings");
        string title = $"deepep bench --sweep: {settings.GetProperty("backend").GetString()?.ToLowerInvariant()}, {settings.GetProperty("ranks").GetInt32()} ranks, hidden {settings.GetProperty("hidden").GetInt32()}";
        var points = new List<(int Tokens, IReadOnlyList<BenchResult> Results)>();
        foreach (JsonElement point in document.RootElement.GetProperty("sweep").EnumerateArray())
        {
            BenchResult[] results = point.GetProperty("results").EnumerateArray().Select(r => new BenchResult(
                r.GetProperty("operation").GetString()!, r.GetProperty("mode").GetString()!, r.GetProperty("backend").GetString()!,
                r.GetProperty("ranks").GetInt32(), r.GetProperty("sms").GetInt32(), r.GetProperty("meanMicroseconds").GetDouble(),
                r.GetProperty("minMicroseconds").GetDouble(), r.GetProperty("maxMicroseconds").GetDouble(), r.GetProperty("bytes").GetInt64(),
                r.GetProperty("correct").GetBoolean(), r.GetProperty("check").GetString()!)).ToArray();
            points.Add((point.GetProperty("tokensPerRank").GetInt32(), results));
        }
        return (title, points);
    }

    private static object Row(BenchResult r) =>
        new { r.Operation, r.Mode, r.Backend, r.Ranks, r.Sms, r.MeanMicroseconds, r.MinMicroseconds, r.MaxMicroseconds, r.Bytes, r.GigabytesPerSecond, r.Correct, r.Check };

    private static string Format(double microseconds) => microseconds.ToString(microseconds >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);
}
