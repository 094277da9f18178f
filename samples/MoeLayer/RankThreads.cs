using DeepEP.Distributed;

namespace MoeLayer;

/// <summary>Runs one function per rank, each on its own thread (ranks wait for each other inside collective calls).</summary>
internal static class RankThreads
{
    /// <summary>Calls <paramref name="body"/> with every group member at once and returns the results in rank order.</summary>
    public static T[] Run<T>(ProcessGroup[] groups, Func<ProcessGroup, T> body)
    {
        var results = new T[groups.Length];
        var failures = new Exception?[groups.Length];
        Thread[] threads = groups.Select((group, rank) => new Thread(() =>
        {
            try
            {
                results[rank] = body(group);
            }
            catch (Exception e)
            {
                failures[rank] = e;
            }
        })
        { Name = $"rank {rank}" }).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        Exception[] errors = failures.OfType<Exception>().ToArray();
        return errors.Length == 0 ? results : throw new AggregateException("The layer failed on at least one rank.", errors);
    }
}
