using ScottPlot;

namespace DeepEP.Cli.Bench;

/// <summary>Draws GB/s against tokens per rank, one line per operation, for a token sweep.</summary>
internal static class SweepPlot
{
    public static void Save(string path, string title, IReadOnlyList<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("tokens per rank (log2 scale)");
        plot.YLabel("GB/s (bytes counted as upstream DeepEP)");
        double[] xs = sweep.Select(point => Math.Log2(point.Tokens)).ToArray();
        foreach (string operation in sweep[0].Results.Where(r => r.Bytes > 0).Select(r => r.Operation))
        {
            double[] ys = sweep.Select(point => point.Results.First(r => r.Operation == operation).GigabytesPerSecond).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = operation;
        }
        plot.Axes.Bottom.SetTicks(xs, sweep.Select(point => point.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 600);
    }
}
