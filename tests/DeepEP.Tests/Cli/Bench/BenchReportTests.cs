using DeepEP.Cli.Bench;
using DeepEP.Ep;
using DeepEP.Runtimes;
using Spectre.Console;

namespace DeepEP.Tests.Cli.Bench;

/// <summary>The bench table reads at a glance: 100 columns, the modes in words, no empty columns, a warning on noise.</summary>
public sealed class BenchReportTests
{
    private static readonly BenchResult[] HostResults =
    [
        new("layout", "normal", "host", 4, 0, 104, 49.5, 839, 0, true, "counts vs topk"),
        new("dispatch FP8", "normal", "host", 4, 0, 38485, 3885, 98345, 4_000_000, true, "bit-exact rows, scales, order"),
        new("dispatch FP8", "low-latency", "host", 4, 0, 3351, 1408, 5699, 500_000, true, "bit-exact payloads and counts"),
        new("host CPU per dispatch + combine", "low-latency", "host", 4, 0, 7048, 4551, 9925, 0, false, "time the host spends"),
    ];

    [Fact]
    public void TheHostTableFitsOneHundredColumnsWithoutTheSmsColumn()
    {
        string text = Print(Settings(iterations: 50), HostResults);
        Assert.All(text.Split('\n'), line => Assert.True(line.TrimEnd().Length <= 100, $"{line.Length} columns: {line}"));
        Assert.DoesNotContain("SMs", text, StringComparison.Ordinal);
        Assert.Contains("normal mode: 512 tokens per rank, 256 experts (64 per rank), each token to 8 of them", text, StringComparison.Ordinal);
        Assert.Contains("low-latency mode: 32 tokens per rank, 288 experts (72 per rank)", text, StringComparison.Ordinal);
        Assert.Contains("✗ time the host spends", text, StringComparison.Ordinal);
    }

    [Fact]
    public void NoisyTimingsAreFlagged()
    {
        Assert.Contains("only 5 timed calls", BenchReport.NoiseWarning(Settings(iterations: 5), HostResults), StringComparison.Ordinal);
        Assert.Contains("25.3× the fastest (normal dispatch FP8)", BenchReport.NoiseWarning(Settings(iterations: 50), HostResults), StringComparison.Ordinal);
        BenchResult[] steady = [new("combine BF16", "normal", "host", 4, 0, 100, 90, 120, 1000, true, "ok")];
        Assert.Null(BenchReport.NoiseWarning(Settings(iterations: 50), steady));
    }

    [Fact]
    public void ASweepEndsWithOneSummaryTable()
    {
        List<(int Tokens, IReadOnlyList<BenchResult> Results)> sweep =
        [
            (256, [new BenchResult("dispatch BF16", "normal", "host", 4, 0, 100, 90, 120, 1_000_000, true, "ok")]),
            (512, [new BenchResult("dispatch BF16", "normal", "host", 4, 0, 150, 140, 160, 2_000_000, false, "row 3 differs")]),
        ];
        var writer = new StringWriter();
        Console(writer).Write(SweepSummary.Create(sweep));
        string text = writer.ToString();
        Assert.Contains("dispatch BF16 GB/s", text, StringComparison.Ordinal);
        Assert.Contains("10.00", text, StringComparison.Ordinal);
        Assert.Contains("✗ dispatch BF16: row 3 differs", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ThePhaseTableGivesMeanMicrosecondsPerBlockRun()
    {
        PhaseTotals dispatch = new(0, "deep_ep::low_latency_dispatch<7168, true, false, false>", 528, [528 * 2000, 528 * 1500, 528 * 9250, 528 * 3000, 528 * 1000, 0, 0, 0]);
        PhaseTotals idle = new(0, "deep_ep::low_latency_combine_recv<7168, false>", 0, [0, 0, 0, 0, 0, 0, 0, 0]);
        var writer = new StringWriter();
        IAnsiConsole console = Console(writer);
        console.Profile.Width = 200;  // one line per kernel (at 100 columns its name wraps)
        console.Write(PhaseReport.Create([idle, dispatch]));
        string text = writer.ToString();
        string row = Assert.Single(text.Split('\n'), line => line.Contains("low_latency_dispatch", StringComparison.Ordinal));
        Assert.Equal(["low_latency_dispatch<7168, true, false, false>", "0", "528", "2.00", "1.50", "9.25", "3.00", "1.00", "–", "–", "–", "16.75"],
            row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("combine_recv", text, StringComparison.Ordinal);
    }

    private static BenchSettings Settings(int iterations) =>
        new(BenchMode.All, 4, EpBackendKind.Host, 512, 32, 2048, 8, 256, 288, 24, 2, iterations, 0);

    private static string Print(BenchSettings settings, IReadOnlyList<BenchResult> results)
    {
        var writer = new StringWriter();
        BenchReport.Print(Console(writer), settings, results);
        return writer.ToString();
    }

    private static IAnsiConsole Console(StringWriter writer)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 100;
        return console;
    }
}
