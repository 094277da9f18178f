using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Support;

/// <summary>
/// Runs one function per rank, each on its own thread with its own in-process group and buffer, ranks on the visible
/// GPUs round-robin (the buffers' default device). A rank that has not finished after <see cref="HangLimit"/> fails the
/// test by name instead of hanging the run (its thread is left behind as a background thread).
/// </summary>
internal static class RankHarness
{
    public static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(3);

    /// <summary>A normal-mode buffer with <paramref name="nvlBytes"/> and a 20 s deadline.</summary>
    public static T[] Run<T>(int ranks, EpBackendKind backend, Func<EpBuffer, T> body, long nvlBytes = 1L << 30) =>
        Run(ranks, backend, (group, _) => new EpBuffer(group, nvlBytes, options: new EpBufferOptions { Backend = backend, Timeout = TimeSpan.FromSeconds(20) }), body);

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
        })
        { IsBackground = true, Name = $"rank {r}" }).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }
        var deadline = DateTime.UtcNow + HangLimit;
        int[] hung = Enumerable.Range(0, ranks).Where(r => !threads[r].Join(Max(deadline - DateTime.UtcNow, TimeSpan.Zero))).ToArray();
        Assert.True(hung.Length == 0, $"{backend}: rank(s) {string.Join(", ", hung)} of {ranks} still running after {HangLimit.TotalMinutes} min.");
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

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
