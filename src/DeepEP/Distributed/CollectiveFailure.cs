namespace DeepEP.Distributed;

/// <summary>
/// Why a collective could not complete, in a form that crosses the wire from rank 0 and becomes a fresh exception
/// on every rank that throws it.
/// </summary>
/// <param name="Operation">The collective, e.g. <c>AllGather</c>.</param>
/// <param name="Detail">For a timeout, where it happened (collective number, root); otherwise the whole message.</param>
/// <param name="MissingRanks">For a timeout, the ranks that did not arrive; otherwise empty.</param>
/// <param name="Timeout">For a timeout, the deadline that passed; otherwise null.</param>
internal sealed record CollectiveFailure(string Operation, string Detail, IReadOnlyList<int> MissingRanks, TimeSpan? Timeout)
{
    /// <summary>The deadline passed with <paramref name="missingRanks"/> absent.</summary>
    public static CollectiveFailure TimedOut(string operation, IReadOnlyList<int> missingRanks, TimeSpan timeout, string context) =>
        new(operation, context, missingRanks, timeout);

    /// <summary>The group broke for the reason in <paramref name="message"/> (mismatch, departure, bad configuration).</summary>
    public static CollectiveFailure Broken(string operation, string message) => new(operation, message, [], null);

    /// <summary>A new exception for the calling thread (exceptions are not shared between threads).</summary>
    public ProcessGroupException ToException() =>
        Timeout is { } timeout
            ? new ProcessGroupTimeoutException(Operation, MissingRanks, timeout, Detail)
            : new ProcessGroupException(Detail);
}
