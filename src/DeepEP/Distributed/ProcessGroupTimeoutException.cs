using System.Globalization;

namespace DeepEP.Distributed;

/// <summary>
/// A collective (or the initial rendezvous) passed its deadline before every rank arrived. The message names the
/// operation and the ranks that did not arrive; the same detail is in <see cref="Operation"/> and
/// <see cref="MissingRanks"/>.
/// </summary>
public sealed class ProcessGroupTimeoutException : ProcessGroupException
{
    /// <summary>Creates the exception; the message is built from the arguments.</summary>
    /// <param name="operation">The collective that timed out: <c>AllGather</c>, <c>AllToAll</c>, <c>Broadcast</c>, <c>Barrier</c> or <c>Rendezvous</c>.</param>
    /// <param name="missingRanks">Ranks that had not arrived when the deadline passed, ascending.</param>
    /// <param name="timeout">The deadline that passed, measured from the call.</param>
    /// <param name="context">Where it happened (collective number, root, hints), appended in parentheses.</param>
    public ProcessGroupTimeoutException(string operation, IReadOnlyList<int> missingRanks, TimeSpan timeout, string? context = null)
        : base(FormatMessage(operation, missingRanks, timeout, context))
    {
        Operation = operation;
        MissingRanks = missingRanks;
        Timeout = timeout;
    }

    /// <summary>The collective that timed out, e.g. <c>AllGather</c> or <c>Rendezvous</c>.</summary>
    public string Operation { get; }

    /// <summary>Ranks that had not arrived when the deadline passed, ascending.</summary>
    public IReadOnlyList<int> MissingRanks { get; }

    /// <summary>The deadline that passed, measured from the call.</summary>
    public TimeSpan Timeout { get; }

    private static string FormatMessage(string operation, IReadOnlyList<int> missingRanks, TimeSpan timeout, string? context)
    {
        string who = missingRanks.Count switch
        {
            0 => "every rank arrived but the result was not delivered in time",
            1 => $"rank {missingRanks[0]} did not arrive",
            _ => $"ranks {FormatRanges(missingRanks)} did not arrive",
        };
        string where = context is null ? "" : $" ({context})";
        return $"{operation} timed out after {FormatDuration(timeout)}: {who}{where}.";
    }

    // "0, 2-5, 7": a 64-rank job missing a whole node stays readable.
    private static string FormatRanges(IReadOnlyList<int> ranks)
    {
        var parts = new List<string>();
        for (int start = 0; start < ranks.Count;)
        {
            int end = start;
            while (end + 1 < ranks.Count && ranks[end + 1] == ranks[end] + 1)
            {
                end++;
            }
            parts.Add(end - start >= 2 ? $"{ranks[start]}-{ranks[end]}" : string.Join(", ", ranks.Skip(start).Take(end - start + 1)));
            start = end + 1;
        }
        return string.Join(", ", parts);
    }

    private static string FormatDuration(TimeSpan duration) =>
        duration < TimeSpan.FromSeconds(1)
            ? string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.#} ms")
            : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.###} s");
}
