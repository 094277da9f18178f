using System.Runtime.ExceptionServices;
using DeepEP.Distributed;

namespace DeepEP.Tests.Host.Support;

/// <summary>Runs one body per rank on its own thread and returns the per-rank results.</summary>
internal static class InProcessRanks
{
    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="numRanks"/> threads. If a rank throws, the others are
    /// released and the first real failure is rethrown with its original stack.
    /// </summary>
    public static T[] Run<T>(int numRanks, Func<ProcessGroup, T> body)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(numRanks);
        var results = new T[numRanks];
        var failures = new Exception?[numRanks];
        var threads = new Thread[numRanks];
        for (int r = 0; r < numRanks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    results[rank] = body(groups[rank]);
                }
                catch (Exception ex)
                {
                    failures[rank] = ex;
                    groups[rank].Dispose(); // leaving releases the ranks waiting for this one
                }
            })
            { IsBackground = true, Name = $"rank {rank}" };
            threads[r].Start();
        }
        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        foreach (ProcessGroup group in groups)
        {
            group.Dispose();
        }
        // A rank that failed on its own beats the ones that only saw it leave.
        Exception? failure = failures.FirstOrDefault(f => f is not null and not ProcessGroupException) ?? failures.FirstOrDefault(f => f is not null);
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
        return results;
    }
}
