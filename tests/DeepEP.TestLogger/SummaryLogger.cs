using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Client;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace DeepEP.TestLogger;

/// <summary>
/// <c>dotnet test --logger summary</c> (the default of this repository's test projects, beside the console logger at
/// quiet verbosity): each failed test with its message and stack trace, and at the end one line per skip reason with
/// its count, instead of a line (twice) per skipped test without the reason.
/// </summary>
[FriendlyName(FriendlyName)]
[ExtensionUri(ExtensionUri)]
public sealed class SummaryLogger : ITestLoggerWithParameters
{
    /// <summary>The name <c>--logger</c> takes.</summary>
    public const string FriendlyName = "summary";

    /// <summary>The logger's identity for VSTest.</summary>
    public const string ExtensionUri = "logger://deepep/summary";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _skipsByReason = new(StringComparer.Ordinal);
    private string _assembly = "";

    /// <inheritdoc />
    public void Initialize(TestLoggerEvents events, string testRunDirectory)
    {
        ArgumentNullException.ThrowIfNull(events);
        events.TestResult += OnTestResult;
        events.TestRunComplete += OnTestRunComplete;
    }

    /// <inheritdoc />
    public void Initialize(TestLoggerEvents events, Dictionary<string, string?> parameters) => Initialize(events, "");

    private void OnTestResult(object? sender, TestResultEventArgs e)
    {
        TestResult result = e.Result;
        lock (_lock)
        {
            _assembly = Path.GetFileNameWithoutExtension(result.TestCase.Source);
            if (result.Outcome == TestOutcome.Skipped)
            {
                string reason = string.IsNullOrWhiteSpace(result.ErrorMessage) ? "no reason given" : result.ErrorMessage.Trim();
                _skipsByReason[reason] = _skipsByReason.GetValueOrDefault(reason) + 1;
            }
            else if (result.Outcome == TestOutcome.Failed)
            {
                Console.WriteLine($"  Failed {result.TestCase.DisplayName} [{result.Duration.TotalMilliseconds:F0} ms]");
                Console.WriteLine(Indent(result.ErrorMessage));
                Console.WriteLine(Indent(result.ErrorStackTrace));
                foreach (TestResultMessage message in result.Messages.Where(m => !string.IsNullOrWhiteSpace(m.Text)))
                {
                    Console.WriteLine(Indent(message.Text));
                }
            }
        }
    }

    private void OnTestRunComplete(object? sender, TestRunCompleteEventArgs e)
    {
        lock (_lock)
        {
            foreach ((string reason, int count) in _skipsByReason.OrderByDescending(p => p.Value))
            {
                Console.WriteLine($"  {_assembly}: {count} skipped: {OneLine(reason)}");
            }
        }
    }

    private static string Indent(string? text) =>
        string.Join(Environment.NewLine, (text ?? "").Split('\n').Select(line => "    " + line.TrimEnd('\r')));

    private static string OneLine(string text) => string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
