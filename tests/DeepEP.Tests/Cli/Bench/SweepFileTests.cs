using DeepEP.Cli.Bench;
using DeepEP.Ep;

namespace DeepEP.Tests.Cli.Bench;

/// <summary>A sweep written by <c>bench --sweep --json</c> reads back unchanged and draws as a PNG (<c>deepep plot</c>).</summary>
public sealed class SweepFileTests
{
    [Fact]
    public void ASweepRoundTripsAndPlots()
    {
        var settings = new BenchSettings(BenchMode.LowLatency, 2, EpBackendKind.Host, 512, 8, 1024, 4, 16, 16, 24, 1, 2, 7);
        List<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep =
        [
            (1, [new BenchResult("dispatch FP8", "low-latency", "host", 2, 0, 12.5, 10, 20, 4096, true, "ok")]),
            (2, [new BenchResult("dispatch FP8", "low-latency", "host", 2, 0, 14.25, 11, 21, 8192, true, "ok")]),
        ];
        string folder = Directory.CreateTempSubdirectory("deepep-sweep-").FullName;
        try
        {
            string json = Path.Combine(folder, "sweep.json"), png = Path.Combine(folder, "sweep.png");
            BenchReport.WriteSweepJson(json, settings, sweep);
            (string title, List<(int Tokens, IReadOnlyList<BenchResult> Results)> read) = BenchReport.ReadSweepJson(json);
            Assert.Contains("host, 2 ranks, hidden 1024", title, StringComparison.Ordinal);
            Assert.Equal(sweep.Select(p => p.Tokens), read.Select(p => p.Tokens));
            Assert.Equal(sweep.SelectMany(p => p.Results), read.SelectMany(p => p.Results));
            SweepPlot.Save(png, title, read);
            Assert.True(new FileInfo(png).Length > 1000);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
