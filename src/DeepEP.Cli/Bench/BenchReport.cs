using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace DeepEP.Cli.Bench;

/// <summary>Prints benchmark results as a table and writes them as JSON.</summary>
internal static class BenchReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Converters = { new JsonStringEnumConverter() } };

    /// <summary>Timings whose slowest call is more than this many times the fastest are flagged as too noisy to trust.</summary>
    public const double MaxTrustedSpread = 2;

    /// <summary>Fewer timed calls than this are flagged as too few to trust.</summary>
    public const int MinTrustedIterations = 10;

    /// <summary>
    /// The header (backend, ranks, and each mode's shape in words), one table per mode with only the columns that
    /// mean something on this backend, and a warning when the timings are too noisy to trust.
    /// </summary>
    public static void Print(IAnsiConsole console, BenchSettings s, IReadOnlyList<BenchResult> results)
    {
        console.MarkupLine($"[bold]deepep bench[/] backend [green]{BenchBackendChoice.Name(s.Backend)}[/], {s.Ranks} ranks, hidden {s.Hidden}, top-{s.Topk} routing");
        foreach (IGrouping<string, BenchResult> mode in results.GroupBy(r => r.Mode))
        {
            bool lowLatency = mode.Key == "low-latency";
            int tokens = lowLatency ? s.LowLatencyTokens : s.Tokens, experts = lowLatency ? s.LowLatencyExperts : s.Experts;
            console.MarkupLine($"[bold]{mode.Key} mode[/]: {tokens} tokens per rank, {experts} experts ({experts / s.Ranks} per rank), each token to {s.Topk} of them");
            console.Write(Table(mode.ToList()));
        }
        console.MarkupLine("[grey]GB/s counts bytes as upstream DeepEP does: received rows including the local rank's (normal), selections × message size (low-latency).[/]");
        if (NoiseWarning(s, results) is { } warning)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(warning)}[/]");
        }
    }

    /// <summary>Why these timings should not be trusted (too few calls, or max/min above <see cref="MaxTrustedSpread"/>), or null.</summary>
    public static string? NoiseWarning(BenchSettings s, IReadOnlyList<BenchResult> results)
    {
        BenchResult? widest = results.Where(r => r.MinMicroseconds > 0).MaxBy(Spread);
        bool spread = widest is not null && Spread(widest) > MaxTrustedSpread;
        bool few = s.Iterations < MinTrustedIterations;
        if (!spread && !few)
        {
            return null;
        }
        string why = string.Join(" and ", new[]
        {
            few ? $"only {s.Iterations} timed calls per operation" : null,
            spread ? $"the slowest call is {Spread(widest!):F1}× the fastest ({widest!.Mode} {widest.Operation})" : null,
        }.OfType<string>());
        return $"Warning: timings too noisy to trust: {why}. Use --iterations 50 or more on a quiet machine.";
    }

    private static Table Table(IReadOnlyList<BenchResult> rows)
    {
        bool sms = rows.Any(r => r.Sms > 0), bytes = rows.Any(r => r.Bytes > 0);
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn(new TableColumn("operation").NoWrap());
        if (sms)
        {
            table.AddColumn(new TableColumn("SMs").RightAligned());
        }
        table.AddColumn(new TableColumn("mean µs").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("min–max µs").RightAligned().NoWrap());
        if (bytes)
        {
            table.AddColumn(new TableColumn("GB/s").RightAligned().NoWrap());
        }
        table.AddColumn("check");
        foreach (BenchResult r in rows)
        {
            var cells = new List<string> { Markup.Escape(r.Operation) };
            if (sms)
            {
                cells.Add(r.Sms > 0 ? r.Sms.ToString(CultureInfo.InvariantCulture) : "-");
            }
            cells.Add(Format(r.MeanMicroseconds));
            string range = $"{Format(r.MinMicroseconds)}–{Format(r.MaxMicroseconds)}";
            cells.Add(r.MinMicroseconds > 0 && Spread(r) > MaxTrustedSpread ? $"[yellow]{range}[/]" : range);
            if (bytes)
            {
                cells.Add(r.Bytes > 0 ? r.GigabytesPerSecond.ToString("F2", CultureInfo.InvariantCulture) : "-");
            }
            cells.Add(r.Correct ? $"[green]✓[/] {Markup.Escape(r.Check)}" : $"[red]✗ {Markup.Escape(r.Check)}[/]");
            table.AddRow(cells.ToArray());
        }
        return table;
    }

    private static double Spread(BenchResult r) => r.MaxMicroseconds / r.MinMicroseconds;

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
