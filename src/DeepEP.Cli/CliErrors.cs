using DeepEP.Cuda;

namespace DeepEP.Cli;

/// <summary>
/// Turns an exception that ended a command into one line for the user and an exit status: 2 when the command could not
/// start as given (<see cref="CliUsageException"/>, no usable GPU), 1 when it failed while running.
/// </summary>
internal static class CliErrors
{
    /// <summary>Exit status of a command that could not start as given.</summary>
    public const int UsageStatus = 2;

    /// <summary>Exit status of a command that failed while running.</summary>
    public const int FailureStatus = 1;

    /// <summary>
    /// Writes <paramref name="exception"/> to <paramref name="error"/>: one line, or the whole exception with
    /// <paramref name="verbose"/>; returns the exit status.
    /// </summary>
    public static int Report(Exception exception, string command, bool verbose, TextWriter error)
    {
        Exception cause = Unwrap(exception);
        bool usage = cause is CliUsageException or GpuUnavailableException;
        if (verbose)
        {
            error.WriteLine(exception.ToString());
        }
        else
        {
            string hint = usage ? "" : $" ({cause.GetType().Name}; --verbose shows the full exception)";
            error.WriteLine($"{command}: {OneLine(cause.Message)}{hint}");
        }
        return usage ? UsageStatus : FailureStatus;
    }

    /// <summary>
    /// The failure to show: an <see cref="AggregateException"/> whose parts all failed the same way (every rank hit the
    /// same error) is that error; otherwise the first part, with the count of the others.
    /// </summary>
    private static Exception Unwrap(Exception exception)
    {
        if (exception is not AggregateException aggregate)
        {
            return exception;
        }
        Exception[] parts = aggregate.Flatten().InnerExceptions.Select(Unwrap).ToArray();
        if (parts.Length == 0)
        {
            return exception;
        }
        int others = parts.Count(p => p.GetType() != parts[0].GetType() || p.Message != parts[0].Message);
        return others == 0 ? parts[0] : new AggregateException($"{parts[0].Message} (and {others} different failure(s) on other ranks)", parts);
    }

    /// <summary>A message on one line: "Did you mean one of the following?\nA\nB" becomes "… following? A, B".</summary>
    public static string OneLine(string message)
    {
        string[] lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length <= 1 ? message.Trim() : $"{lines[0]} {string.Join(", ", lines[1..])}";
    }
}
