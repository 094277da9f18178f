using System.Diagnostics;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tests.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Reliability;

/// <summary>How ranks meet: threads sharing an in-process group, or threads joined over TCP like separate processes.</summary>
public enum ProcessModel
{
    Threads,
    Tcp,
}

/// <summary>What one rank ended with: its exception (null if it finished), the step it was in and how long that step ran.</summary>
internal sealed record RankReport(Exception? Error, FaultStep Reached, TimeSpan InStep, bool DisposedCleanly);

/// <summary>Runs a <see cref="FaultCase"/> on the host backend with one thread per rank and reports every rank.</summary>
internal static class FaultRun
{
    public const int NumRanks = 3;

    /// <summary>
    /// Every rank runs on <see cref="RankThreads"/>, whose hang limit fails the test instead of blocking CI. A stalled
    /// faulty rank parks until the last survivor has finished, so survivors are judged while it is still stuck.
    /// </summary>
    public static RankReport[] Run(FaultCase fault, ProcessModel model, TimeSpan timeout)
    {
        ProcessGroup[]? inProcess = model == ProcessModel.Threads ? ProcessGroup.CreateInProcess(NumRanks) : null;
        int port = LoopbackRanks.FreePort();
        using var release = new ManualResetEventSlim();
        using var survivorsLeft = new CountdownEvent(NumRanks - 1);
        var clock = Stopwatch.StartNew();
        return RankThreads.RunAll(NumRanks, rank =>
        {
            try
            {
                // The rendezvous has its own, longer deadline: only the buffer's operations run under the short one.
                ProcessGroup group = inProcess?[rank] ?? ProcessGroup.Connect(LoopbackRanks.Environment(rank, NumRanks, port), TimeSpan.FromSeconds(20));
                FaultyGroup? faulty = rank == fault.FaultyRank && fault.Kind == FaultKind.Throw ? new FaultyGroup(group) : null;
                return RunRank(fault, rank, faulty ?? group, faulty, timeout, clock, release);
            }
            finally
            {
                if (rank != fault.FaultyRank && survivorsLeft.Signal())
                {
                    release.Set();
                }
            }
        });
    }

    private static RankReport RunRank(FaultCase fault, int rank, ProcessGroup group, FaultyGroup? faulty, TimeSpan timeout, Stopwatch clock,
        ManualResetEventSlim release)
    {
        var script = new FaultScript(fault, rank);
        Exception? error = null;
        bool disposedCleanly;
        var buffer = new EpBuffer(group, numNvlBytes: 1L << 22, numRdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(FaultScript.Tokens, 2 * FaultScript.Hidden, NumRanks, FaultScript.Experts(NumRanks)),
            lowLatencyMode: true, new EpBufferOptions { Backend = EpBackendKind.Host, Timeout = timeout });
        try
        {
            script.Run(buffer, faulty, clock, release.Wait);
        }
        catch (Exception e)
        {
            error = e;
        }
        TimeSpan inStep = clock.Elapsed - script.StepStarted;
        try
        {
            // What a `using` does on the way out; leaving the group releases peers still waiting for this rank.
            buffer.Dispose();
            group.Dispose();
            disposedCleanly = true;
        }
        catch (Exception)
        {
            disposedCleanly = false;
        }
        return new RankReport(error, script.Reached, inStep, disposedCleanly);
    }
}
