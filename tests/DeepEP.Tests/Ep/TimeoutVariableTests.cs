using System.Diagnostics;
using DeepEP.Ep;

namespace DeepEP.Tests.Ep;

/// <summary>DEEPEP_TIMEOUT_S is read where a deadline is resolved, and a bad value stops the program with the variable and its range.</summary>
public sealed class TimeoutVariableTests
{
    private static EpEnvironment With(string value) =>
        EpEnvironment.FromVariables(new Dictionary<string, string> { [EpEnvironment.TimeoutVariable] = value });

    [Fact]
    public void TheVariableIsTheDeadlineWhenNoneIsGiven() =>
        Assert.Equal(TimeSpan.FromSeconds(7), EpEnvironment.ResolveTimeout(null, "timeout", With("7")));

    [Fact]
    public void AGivenTimeoutWinsAndTheVariableIsNotRead() =>
        Assert.Equal(TimeSpan.FromSeconds(2), EpEnvironment.ResolveTimeout(TimeSpan.FromSeconds(2), "timeout", With("abc")));

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void AGivenTimeoutMustBePositive(int seconds) =>
        Assert.Equal("options.Timeout", Assert.Throws<ArgumentOutOfRangeException>(
            () => EpEnvironment.ResolveTimeout(TimeSpan.FromSeconds(seconds), "options.Timeout", With("5"))).ParamName);

    [Theory]
    [InlineData("1e9")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    public void OutOfRangeValuesNameTheVariableAndTheRange(string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => EpEnvironment.ResolveTimeout(null, "timeout", With(value)));
        Assert.Contains($"{EpEnvironment.TimeoutVariable}='{value}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"at most {EpEnvironment.MaxTimeoutSeconds}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("0")]
    public async Task TheCliRefusesABadValue(string value)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "DeepEP.Cli.dll"), "bench", "--backend", "host", "--ranks", "2", "--tokens", "16",
                "--ll-tokens", "2", "--hidden", "128", "--warmups", "0", "--iterations", "1" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { [EpEnvironment.TimeoutVariable] = value },
        };
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string error = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        string log = await output + error;
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains($"{EpEnvironment.TimeoutVariable}='{value}' is not a valid timeout", log, StringComparison.Ordinal);
        Assert.Contains("greater than 0", log, StringComparison.Ordinal);
    }
}
