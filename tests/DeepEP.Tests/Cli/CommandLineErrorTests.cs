using DeepEP.Cli;
using DeepEP.Cli.Bench;
using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Interop;
using DeepEP.NativeLibraries;
using DeepEP.Tests.NativeLibraries;

namespace DeepEP.Tests.Cli;

/// <summary>
/// Every expected problem ends a command with one line naming what is wrong, and status 2 for a command line that
/// cannot run; <c>--verbose</c> shows the whole exception.
/// </summary>
public sealed class CommandLineErrorTests
{
    [Theory]
    [InlineData("--topk 300", "--topk 300", "1 to 32")]
    [InlineData("--topk 0", "--topk 0", "1 to 32")]
    [InlineData("--experts 7", "--experts 7", "multiple of the rank count (4)")]
    [InlineData("--experts 4 --topk 8", "--topk 8", "1 to 4, the expert count")]
    [InlineData("--ll-experts 10 --mode lowlatency", "--ll-experts 10", "multiple of the rank count (4)")]
    [InlineData("--iterations 0", "--iterations 0", "1 or more")]
    [InlineData("--warmups -1", "--warmups -1", "0 or more")]
    [InlineData("--ranks 0", "--ranks 0", "1 to 32")]
    [InlineData("--ranks 33", "--ranks 33", "1 to 32")]
    [InlineData("--tokens 0", "--tokens 0", "1 to 65536")]
    [InlineData("--ll-tokens 5000", "--ll-tokens 5000", "1 to 1024")]
    [InlineData("--hidden 100", "--hidden 100", "multiple of 128")]
    [InlineData("--num-sms 23", "--num-sms 23", "SMs apply only to the GPU backends")]
    [InlineData("--plot x.png", "--plot x.png", "add --sweep")]
    [InlineData("--compare host", "--compare host", "already measured")]
    [InlineData("--dump dumped", "--dump dumped", "add --mode fused")]
    [InlineData("--phases", "--phases", "not valid on the host backend")]
    [InlineData("--topk abc", "'abc'", "--topk")]
    [InlineData("--mode bogus", "'bogus'", "LowLatency")]
    [InlineData("--no-such-option", "--no-such-option", "")]
    public void BadBenchOptionsStopBeforeAnythingRuns(string options, string named, string valid)
    {
        (int status, string error) = Run(["bench", "--backend", "host", .. options.Split(' ')]);
        Assert.Equal(2, status);
        AssertOneLine(error, named, valid);
    }

    [Theory]
    [InlineData(EpBackendKind.Kernels, "--backend kernels")]
    [InlineData(EpBackendKind.Nccl, "--compare nccl")]
    [InlineData(EpBackendKind.Nccl, "--backend nccl")]
    public void AGpuBackendWithoutAGpuIsOneLine(EpBackendKind kind, string named)
    {
        string? noGpu = CudaDriverLoader.DescribeFailure(FakeProbes.Missing(NativeLibraryKind.Cuda), () => CuResult.Success);
        Assert.NotNull(noGpu);
        string? problem = BenchBackendChoice.Problem(kind, named, noGpu, k => throw new InvalidOperationException($"{k} must not be looked for without a GPU"));
        Assert.NotNull(problem);
        AssertOneLine(problem, named, "needs an NVIDIA GPU");
        Assert.DoesNotContain("; searched", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(EpBackendKind.Kernels, "Nvrtc", "NVRTC")]
    [InlineData(EpBackendKind.Nccl, "Nccl", "NCCL")]
    public void AGpuBackendWithoutItsLibraryNamesIt(EpBackendKind kind, string library, string named)
    {
        NativeLibraryKind missing = Enum.Parse<NativeLibraryKind>(library);
        string? problem = BenchBackendChoice.Problem(kind, "--backend x", noGpu: null,
            k => k == missing ? FakeProbes.Missing(k) : FakeProbes.Found(k));
        Assert.NotNull(problem);
        AssertOneLine(problem, "--backend x", named);
        Assert.Null(BenchBackendChoice.Problem(kind, "--backend x", noGpu: null, FakeProbes.Found));
        Assert.Null(BenchBackendChoice.Problem(EpBackendKind.Host, "--backend host", "no GPU", FakeProbes.Missing));
    }

    [Theory]
    [InlineData("""{ "settings": {}, "results": [] }""", "it is a plain bench --json file")]
    [InlineData("not json at all", "is not a sweep written by bench --sweep --json")]
    [InlineData("[1, 2]", "is not a sweep written by bench --sweep --json")]
    [InlineData("""{ "sweep": [ { "tokensPerRank": 1 } ] }""", "is not a sweep written by bench --sweep --json")]
    public void PlotRefusesWhatIsNotASweep(string content, string expected)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, content);
            (int status, string error) = Run(["plot", file, "--out", file + ".png"]);
            Assert.Equal(2, status);
            AssertOneLine(error, file, expected);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void PlotNamesAMissingFile()
    {
        (int status, string error) = Run(["plot", "/nonexistent/sweep.json", "--out", "x.png"]);
        Assert.Equal(2, status);
        AssertOneLine(error, "/nonexistent/sweep.json", "does not exist");
    }

    [Fact]
    public void TuneRefusesBadSmCounts()
    {
        (int status, string error) = Run(["tune", "--sms", "8,x"]);
        Assert.Equal(2, status);
        AssertOneLine(error, "--sms 8,x", "positive even SM counts");
    }

    [Fact]
    public void NoCommandShowsTheHelpWithStatusTwo()
    {
        var output = new StringWriter();
        Assert.Equal(2, CliApp.Run([], output, new StringWriter()));
        Assert.Contains("bench", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void VerboseShowsTheWholeException()
    {
        (int status, string error) = Run(["bench", "--backend", "host", "--topk", "300", "--verbose"]);
        Assert.Equal(2, status);
        Assert.Contains(nameof(CliUsageException), error, StringComparison.Ordinal);
        Assert.Contains(" at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailureOnEveryRankIsReportedOnce()
    {
        var perRank = Enumerable.Range(0, 4).Select(_ => new InvalidOperationException("The peer went away.")).ToArray();
        var error = new StringWriter();
        int status = CliErrors.Report(new AggregateException("The benchmark failed on at least one rank.", perRank), "deepep bench", verbose: false, error);
        Assert.Equal(1, status);
        AssertOneLine(error.ToString(), "The peer went away.", "--verbose shows the full exception");
    }

    private static (int Status, string Error) Run(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = CliApp.Run(args, output, error);
        return (status, error.ToString());
    }

    private static void AssertOneLine(string error, string named, string valid)
    {
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"Expected one line, got:\n{error}");
        Assert.Contains(named, lines[0], StringComparison.Ordinal);
        Assert.Contains(valid, lines[0], StringComparison.Ordinal);
    }
}
