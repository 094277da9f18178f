namespace DeepEP.Distributed;

/// <summary>
/// A collective of a <see cref="ProcessGroup"/> could not complete: ranks called different collectives, a rank
/// left or lost its connection, or (as <see cref="ProcessGroupTimeoutException"/>) ranks did not arrive in time.
/// After the first one a group is unusable: every later collective on that rank throws at once.
/// </summary>
public class ProcessGroupException : Exception
{
    /// <summary>Creates the exception with a message that says what failed and what to check.</summary>
    /// <param name="message">What failed, naming the ranks and the collective.</param>
    /// <param name="innerException">The failure this one follows from, if any.</param>
    public ProcessGroupException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>The exception for a collective called after <paramref name="firstFailure"/> broke the group.</summary>
    internal static ProcessGroupException Unusable(int rank, ProcessGroupException firstFailure) =>
        new($"The process group can no longer be used on rank {rank}: an earlier collective failed. {firstFailure.Message}", firstFailure);
}
