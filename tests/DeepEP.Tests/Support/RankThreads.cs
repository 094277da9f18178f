using System.Diagnostics;
using DeepEP.Distributed;

namespace DeepEP.Tests.Support;

/// <summary>What one rank's thread ended with: a value or an exception.</summary>
internal sealed record RankOutcome<T>(T? Value, Exception? Error)
{
    /// <summary>The rank's value; fails the test with the rank's exception if it threw.</summary>
    public T Ok => Error is null ? Value! : throw new Xunit.Sdk.XunitException($"The rank failed: {Error}");
}

/// <summary>
/// The one thread-per-rank harness of the CPU tests. Each rank runs its body on its own background thread (not the
/// pool: ranks block on each other). A rank still running after <see cref="HangLimit"/> fails the test naming the
/// ranks; background threads never keep the test process alive. Failure rule: every rank's exception is collected;
/// <see cref="Run{T}(int, Func{int, T})"/> hands them back per rank, the <c>RunAll</c> family throws one
/// <see cref="AggregateException"/> that says how many ranks failed and holds their exceptions in rank order.
/// </summary>
internal static class RankThreads
{
    /// <summary>How long all ranks together may run before the test fails as hung.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/> once per rank and returns every rank's outcome.</summary>
    public static RankOutcome<T>[] Run<T>(int size, Func<int, T> body)
    {
        var outcomes = new RankOutcome<T>[size];
        Thread[] threads = [.. Enumerable.Range(0, size).Select(rank => new Thread(() =>
        {
            try
            {
                outcomes[rank] = new RankOutcome<T>(body(rank), null);
            }
            catch (Exception error)
            {
                outcomes[rank] = new RankOutcome<T>(default, error);
            }
        })
        { IsBackground = true, Name = $"rank {rank}" })];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        var clock = Stopwatch.StartNew();
        int[] hung = [.. Enumerable.Range(0, size).Where(rank => !threads[rank].Join(Remaining(clock)))];
        if (hung.Length > 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"rank(s) {string.Join(", ", hung)} of {size} still running after the hang limit of {HangLimit.TotalSeconds:0} s");
        }
        return outcomes;
    }

    /// <summary>Runs each rank of <paramref name="groups"/> and disposes it, so a rank that fails releases the others at once.</summary>
    public static RankOutcome<T>[] Run<T>(IReadOnlyList<ProcessGroup> groups, Func<ProcessGroup, T> body) => Run(groups.Count, rank =>
    {
        using ProcessGroup group = groups[rank];
        return body(group);
    });

    /// <summary>Every rank's value, or an <see cref="AggregateException"/> holding every failed rank's exception.</summary>
    public static T[] Values<T>(IReadOnlyList<RankOutcome<T>> outcomes)
    {
        int[] failed = [.. Enumerable.Range(0, outcomes.Count).Where(rank => outcomes[rank].Error is not null)];
        if (failed.Length > 0)
        {
            throw new AggregateException(
                $"{failed.Length} of {outcomes.Count} rank(s) failed: rank(s) {string.Join(", ", failed)}",
                failed.Select(rank => outcomes[rank].Error!));
        }
        return [.. outcomes.Select(outcome => outcome.Value!)];
    }

    /// <summary>The first exception of a rank that failed on its own, not one that only saw a peer leave the group.</summary>
    public static Exception? FirstOwnFailure<T>(IEnumerable<RankOutcome<T>> outcomes) =>
        outcomes.Select(outcome => outcome.Error).FirstOrDefault(error => error is not null and not ProcessGroupException);

    public static T[] RunAll<T>(int size, Func<int, T> body) => Values(Run(size, body));

    public static T[] RunAll<T>(IReadOnlyList<ProcessGroup> groups, Func<ProcessGroup, T> body) => Values(Run(groups, body));

    /// <summary>Runs <paramref name="body"/> on <paramref name="numRanks"/> ranks of a fresh in-process group.</summary>
    public static T[] RunInProcess<T>(int numRanks, Func<ProcessGroup, T> body) => RunAll(ProcessGroup.CreateInProcess(numRanks), body);

    private static TimeSpan Remaining(Stopwatch clock) =>
        clock.Elapsed < HangLimit ? HangLimit - clock.Elapsed : TimeSpan.Zero;
}
