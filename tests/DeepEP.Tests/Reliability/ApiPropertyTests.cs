using System.Globalization;
using CsCheck;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// Property: random shapes, dtypes and values into every public EpBuffer operation on the host backend either throw a
/// documented argument (or disposed) exception before any communication, or return what the reference arithmetic gives;
/// nothing crashes. CI runs a fixed seed for a few seconds; DEEPEP_PROPERTY_SECONDS=600 runs it for ten minutes.
/// </summary>
public sealed class ApiPropertyTests
{
    /// <summary>Seconds for a long run (random seeds); unset runs the short fixed-seed CI sample.</summary>
    public const string SecondsVariable = "DEEPEP_PROPERTY_SECONDS";

    private const string FixedSeed = "0N0XIzNsQ0O2";

    [Fact]
    public void EveryCallThrowsADocumentedErrorOrMatchesTheReference()
    {
        string? configured = Environment.GetEnvironmentVariable(SecondsVariable);
        int seconds = configured is null ? -1 : int.Parse(configured, CultureInfo.InvariantCulture);
        FuzzCall.Generator.Sample(call =>
        {
            using var run = new FuzzRun(call);
            run.Run();
        },
        writeLine: TestContext.Current.TestOutputHelper is { } output ? output.WriteLine : null,
        seed: seconds > 0 ? null : FixedSeed,
        iter: seconds > 0 ? long.MaxValue : 2000,
        time: seconds);
    }
}
