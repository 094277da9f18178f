using DeepEP.Distributed;
namespace DeepEP.Tests.Distributed;

/// <summary>What one rank's thread ended with: a value or an exception.</summary>
internal sealed record RankOutcome<T>(T? Value, Exception? Error)
{
    public T Ok => Error is null ? Value! : throw new Xunit.Sdk.XunitException($"The rank failed: {Error}");
}

/// <summary>Runs one body per rank, each on its own thread (not the pool: ranks block).</summary>
internal static class RankThreads
{
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    public static RankOutcome<T>[] Run<T>(int size, Func<int, T> body)
    {
        var outcomes = new RankOutcome<T>[size];
        var threads = Enumerable.Range(0, size).Select(rank => new Thread(() =>
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
        { IsBackground = true, Name = $"rank {rank}" }).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }
        foreach (var thread in threads)
        {
            Assert.True(thread.Join(HangLimit), $"{thread.Name} hung");
        }
        return outcomes;
    }

    public static T[] RunAll<T>(int size, Func<int, T> body) => [.. Run(size, body).Select(outcome => outcome.Ok)];

    /// <summary>Runs each rank of <paramref name="groups"/> and disposes it, so a rank that fails releases the others at once.</summary>
    public static T[] RunAll<T>(IReadOnlyList<ProcessGroup> groups, Func<ProcessGroup, T> body) => RunAll(groups.Count, rank =>
    {
        using var group = groups[rank];
        return body(group);
    });
}
