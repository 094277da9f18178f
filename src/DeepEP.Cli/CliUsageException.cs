namespace DeepEP.Cli;

/// <summary>
/// A command line that cannot run as given: a bad option value, a missing or wrong input file, a backend this machine
/// cannot provide. <see cref="CliApp"/> prints its message as one line and exits with status 2.
/// </summary>
public sealed class CliUsageException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public CliUsageException()
        : this("The command line cannot run as given.")
    {
    }

    /// <summary>Creates the exception; <paramref name="message"/> names the option, the bad value and what is valid.</summary>
    public CliUsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception around the failure that showed the problem (e.g. a JSON parse error).</summary>
    public CliUsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Throws a <see cref="CliUsageException"/> with <paramref name="problem"/> unless it is null.</summary>
    public static void ThrowIf(string? problem)
    {
        if (problem is not null)
        {
            throw new CliUsageException(problem);
        }
    }
}
