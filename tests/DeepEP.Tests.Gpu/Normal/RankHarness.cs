using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Runs one function per rank, each on its own thread with its own in-process group and buffer.</summary>
internal static class RankHarness
{
    public static T[] Run<T>(int ranks, EpBackendKind backend, long nvlBytes, Func<EpBuffer, T> body) =>
        Run(ranks, backend, (group, r) => new EpBuffer(group, nvlBytes, options: new EpBufferOptions { Backend = backend, Device = r, Timeout = TimeSpan.FromSeconds(20) }), body);

    /// <summary>As above with the buffers <paramref name="create"/> makes from (group, rank).</summary>
    public static T[] Run<T>(int ranks, EpBackendKind backend, Func<ProcessGroup, int, EpBuffer> create, Func<EpBuffer, T> body)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try
            {
                using EpBuffer buffer = create(groups[r], r);
                results[r] = body(buffer);
            }
            catch (Exception e)
            {
                errors[r] = e;
            }
        })).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }
        foreach (Thread t in threads)
        {
            t.Join();
        }
        foreach (ProcessGroup g in groups)
        {
            g.Dispose();
        }
        Exception[] failed = errors.OfType<Exception>().ToArray();
        if (failed.Length > 0)
        {
            throw new AggregateException($"{failed.Length} of {ranks} ranks failed on the {backend} backend.", failed);
        }
        return results;
    }
}
