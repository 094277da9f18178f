using ScottPlot;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Draws a token sweep, one line per operation: GB/s for normal mode (throughput), mean µs per call for low-latency
/// mode (latency is what decode cares about).
/// </summary>
internal static class SweepPlot
{
    public static void Save(string path, string title, IReadOnlyList<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep)
    {
        bool latency = sweep[0].Results.All(r => r.Mode == "low-latency");
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("tokens per rank (log2 scale)");
        plot.YLabel(latency ? "mean µs per call" : "GB/s (bytes counted as upstream DeepEP)");
        double[] xs = sweep.Select(point => Math.Log2(point.Tokens)).ToArray();
        foreach (string operation in sweep[0].Results.Where(r => latency || r.Bytes > 0).Select(r => r.Operation))
        {
            double[] ys = sweep.Select(point => point.Results.First(r => r.Operation == operation))
                .Select(r => latency ? r.MeanMicroseconds : r.GigabytesPerSecond).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = operation;
        }
        plot.Axes.Bottom.SetTicks(xs, sweep.Select(point => point.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 600);
    }
}
