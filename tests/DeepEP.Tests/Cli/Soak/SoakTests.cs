using System.Diagnostics;
using DeepEP.Cli.Soak;
using DeepEP.Ep;

namespace DeepEP.Tests.Cli.Soak;

/// <summary>`deepep soak` on the host backend: 1,000 checked iterations of both modes in a process of its own (so memory is its own).</summary>
public sealed class SoakTests
{
    private static readonly SoakSettings Settings = new(100, 2, EpBackendKind.Host, SoakMode.Both, 16, 256, 4, 2, 10, 0.05);

    [Fact]
    public async Task ThousandHostIterationsPassWithinAMinute()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "DeepEP.Cli.dll"), "soak", "--backend", "host", "--iterations", "1000", "--mode", "both" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string error = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        string log = await output + error;
        Assert.True(process.ExitCode == 0, log);
        Assert.Contains("PASS: 1000 iterations on every rank", log, StringComparison.Ordinal);
        Assert.Contains("1000/1000", log, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void EveryIterationIsCheckedOnEveryRank()
    {
        SoakResult[] results = SoakRunner.Run(Settings);
        Assert.Equal([0, 1], results.Select(r => r.Rank));
        Assert.All(results, r => Assert.Equal((100, 0, null), (r.Iterations, r.Failures, r.FirstFailure)));
    }

    [Theory]
    [InlineData(100, 0, 0.049, true)]
    [InlineData(100, 0, 0.051, false)]
    [InlineData(100, 1, 0.0, false)]
    [InlineData(99, 0, 0.0, false)]
    public void TheVerdictNeedsEveryIterationNoFailureAndBoundedGrowth(int iterations, int failures, double growth, bool passes)
    {
        const long warm = 100_000_000;
        var result = new SoakResult(0, iterations, failures, failures > 0 ? "wrong" : null, warm, warm + (long)(warm * growth), 1);
        Assert.Equal(passes, SoakReport.Passed(Settings, [result, result with { Rank = 1 }]));
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(512L << 20, 512L << 20, true)]
    [InlineData(512L << 20, 510L << 20, true)]
    [InlineData(512L << 20, (512L << 20) + 1, false)]
    public void TheVerdictNeedsAFlatDevicePool(long warm, long end, bool passes)
    {
        var result = new SoakResult(0, 100, 0, null, 100_000_000, 100_000_000, 1) { DevicePoolWarmBytes = warm, DevicePoolEndBytes = end };
        Assert.Equal(!passes, result.DevicePoolGrew);
        Assert.Equal(passes, SoakReport.Passed(Settings, [result, result with { Rank = 1 }]));
    }

    [Fact]
    public void TheHostBackendReportsNoDevicePool()
    {
        SoakResult[] results = SoakRunner.Run(Settings);
        Assert.All(results, r => Assert.Equal((0L, 0L), (r.DevicePoolWarmBytes, r.DevicePoolEndBytes)));
    }

    [Fact]
    public void AnErrorIsReportedAsAFailureOfTheRank()
    {
        // E = 3 is not a multiple of 2 ranks: every rank's first call throws, and each reports it instead of crashing.
        SoakResult[] results = SoakRunner.Run(Settings with { Experts = 3 });
        Assert.All(results, r =>
        {
            Assert.Equal(0, r.Iterations);
            Assert.Equal(1, r.Failures);
            Assert.Contains("numExperts", r.FirstFailure, StringComparison.Ordinal);
        });
    }
}
