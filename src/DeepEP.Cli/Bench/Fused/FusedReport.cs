using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DeepEP.Ep;
using Spectre.Console;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>Prints <c>deepep bench --mode fused</c>: the layer table, the grouped-GEMM table, notes; and writes them as JSON.</summary>
internal static class FusedReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Converters = { new JsonStringEnumConverter() } };

    /// <summary>The name of a quant mode in tables and options: bf16, int8, fp8.</summary>
    public static string QuantName(MoeQuantMode quant) => quant == MoeQuantMode.None ? "bf16" : quant.ToString().ToLowerInvariant();

    public static void Print(IAnsiConsole console, BenchSettings s, IReadOnlyList<FusedResult> layer, IReadOnlyList<FusedResult> gemms, int checkedTokens)
    {
        console.MarkupLine($"[bold]deepep bench --mode fused[/] backend [green]{BenchBackendChoice.Name(s.Backend)}[/], {s.Ranks} ranks: " +
            $"{s.LowLatencyTokens} tokens per rank, H {s.Hidden}, I {s.Intermediate}, {s.LocalExperts} experts per rank ({s.LocalExperts * s.Ranks} in all), top-{s.Topk}");
        console.Write(Table(layer, layerRows: true));
        if (gemms.Count > 0)
        {
            console.MarkupLine($"[bold]grouped GEMMs alone[/] (W1 GEMM, SwiGLU + re-quantisation, W2 GEMM; one GPU, every row valid), H {s.Hidden}, I {s.Intermediate}:");
            console.Write(Table(gemms, layerRows: false));
        }
        else
        {
            console.MarkupLine("[grey]The grouped GEMMs alone run on a GPU backend only.[/]");
        }
        console.MarkupLine("[grey]µs: median per call (min and max in --json). Weights: W1, W2 and scales of every expert that received a row. TFLOP/s: 2·rows·2I·H + 2·rows·H·I over valid rows " +
            "(rows = received rows summed over local experts, per rank). staged/fused: DispatchFfnCombine time / FusedDeepMoe time.[/]");
        if (s.Backend != EpBackendKind.Host)
        {
            console.MarkupLine($"[grey]Correctness: each rank's first {checkedTokens} tokens against the host backend (the host reference is slow at these shapes); " +
                $"calc_diff bound 1e-5 (bf16), 1e-3 (int8, fp8). At the timed token count: received counts against the routing, the two fuse modes bit for bit.[/]");
        }
        else
        {
            console.MarkupLine("[grey]Correctness: the host backend is the reference; received counts against the routing, the two fuse modes bit for bit.[/]");
        }
        if (BenchReport.NoiseWarning(s, [.. layer.Concat(gemms).Select(r => new BenchResult(r.Operation, "fused", "", r.Ranks, 0, r.Timing.Mean, r.Timing.Min, r.Timing.Max, 0, r.Correct, r.Check))]) is { } warning)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(warning)}[/]");
        }
    }

    public static void WriteJson(string path, BenchSettings s, IReadOnlyList<FusedResult> layer, IReadOnlyList<FusedResult> gemms) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new { settings = s, layer = layer.Select(r => Row(r, layer)), groupedGemms = gemms.Select(r => Row(r, gemms)) }, JsonOptions));

    private static object Row(FusedResult r, IReadOnlyList<FusedResult> all) => new
    {
        r.Operation,
        r.Ranks,
        tokens = r.Tokens,
        r.Hidden,
        r.Intermediate,
        r.LocalExperts,
        r.Topk,
        mode = r.Mode?.ToString(),
        quant = QuantName(r.Quant),
        medianMicroseconds = r.Timing.Median,
        meanMicroseconds = r.Timing.Mean,
        minMicroseconds = r.Timing.Min,
        maxMicroseconds = r.Timing.Max,
        r.Rows,
        r.WeightBytes,
        r.Flops,
        weightTerabytesPerSecond = r.WeightTerabytesPerSecond,
        teraflops = r.Teraflops,
        stagedOverFused = Ratio(r, all),
        r.Correct,
        r.Check,
    };

    // DispatchFfnCombine's median over FusedDeepMoe's for the same quant mode, on the DispatchFfnCombine row.
    private static double? Ratio(FusedResult r, IReadOnlyList<FusedResult> all) =>
        r.Mode == FuseMode.DispatchFfnCombine && all.FirstOrDefault(f => f.Quant == r.Quant && f.Mode == FuseMode.FusedDeepMoe) is { Timing.Median: > 0 } fused
            ? r.Timing.Median / fused.Timing.Median
            : null;

    private static Table Table(IReadOnlyList<FusedResult> rows, bool layerRows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        string[] headers = layerRows
            ? ["mode", "quant", "µs", "weights MB", "TB/s", "TFLOP/s", "staged/fused", "check"]
            : ["quant", "rows/expert", "experts", "µs", "weights MB", "TB/s", "TFLOP/s"];
        foreach (string header in headers)
        {
            table.AddColumn(header == "check" ? new TableColumn(header) : new TableColumn(header).RightAligned().NoWrap());
        }
        foreach (FusedResult r in rows)
        {
            string[] numbers =
            [
                F(r.Timing.Median), (r.WeightBytes / 1e6).ToString("F1", CultureInfo.InvariantCulture),
                r.WeightTerabytesPerSecond.ToString("F3", CultureInfo.InvariantCulture), r.Teraflops.ToString("F2", CultureInfo.InvariantCulture),
            ];
            string[] cells = layerRows
                ?
                [
                    r.Mode?.ToString() ?? "", QuantName(r.Quant), .. numbers,
                    Ratio(r, rows) is { } ratio ? ratio.ToString("F2", CultureInfo.InvariantCulture) : "-",
                    r.Correct ? $"[green]✓[/] {Markup.Escape(r.Check)}" : $"[red]✗ {Markup.Escape(r.Check)}[/]",
                ]
                : [QuantName(r.Quant), I(r.Tokens), I(r.LocalExperts), .. numbers];
            table.AddRow(cells);
        }
        return table;
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double microseconds) => microseconds.ToString(microseconds >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);
}
