using System.Diagnostics;
using System.Globalization;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// One rank of a process row of the failure matrix, run as a program: a test executable started with
/// <see cref="Argument"/> (its Program.Main) joins the process group from the launcher's environment, makes a
/// low-latency buffer and runs <see cref="FaultScript"/>. At its step the faulty rank prints
/// <see cref="LaunchedRanks.CasualtyMarker"/> and stops (SIGSTOP, <see cref="FaultKind.Stall"/>) or kills
/// (SIGKILL, <see cref="FaultKind.Kill"/>) itself, so the launcher need not know its pid. A survivor whose call fails
/// prints the exception and exits 1 (2 when its buffer then does not dispose cleanly); one that finishes (shrink)
/// prints its mask and whether cleaning the mask cleared it, and exits 0.
/// </summary>
internal static class FaultRank
{
    /// <summary>The first argument that makes a test executable a fault-matrix rank instead of a test runner.</summary>
    public const string Argument = "--fault-rank";

    /// <summary>
    /// The command the launcher starts for each rank (the same for all: each compares its RANK with the faulty one of
    /// <paramref name="fault"/>): buffers on <paramref name="backend"/> with deadline <paramref name="timeout"/> and,
    /// with <paramref name="shrink"/>, rank masking; normal-mode calls on <paramref name="numSms"/> SMs (0: the
    /// backend's default configuration).
    /// </summary>
    public static string[] Command(FaultCase fault, EpBackendKind backend, TimeSpan timeout, bool shrink = false, int numSms = 0) =>
        LaunchedRanks.Beside(typeof(FaultRank).Assembly.GetName().Name!, Argument, backend.ToString(), fault.Kind.ToString(), fault.Step.ToString(),
            Invariant(fault.FaultyRank), shrink ? "shrink" : "no-shrink", timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture), Invariant(numSms));

    /// <summary>Runs this rank with the arguments after <see cref="Argument"/>; the exit status described above.</summary>
    public static int Run(IReadOnlyList<string> arguments)
    {
        EpBackendKind backend = Enum.Parse<EpBackendKind>(arguments[0]);
        var fault = new FaultCase(Enum.Parse<FaultStep>(arguments[2]), Enum.Parse<FaultKind>(arguments[1]), int.Parse(arguments[3], CultureInfo.InvariantCulture));
        bool shrink = arguments[4] == "shrink";
        var timeout = TimeSpan.FromSeconds(double.Parse(arguments[5], CultureInfo.InvariantCulture));
        int numSms = int.Parse(arguments[6], CultureInfo.InvariantCulture);

        // The rendezvous has its own, longer deadline: only the buffer's operations run under the short one.
        using ProcessGroup group = ProcessGroup.FromEnvironment(TimeSpan.FromSeconds(60));
        int ranks = group.Size;
        var buffer = new EpBuffer(group, backend == EpBackendKind.Host ? 1L << 22 : 1L << 28,
            EpBuffer.GetLowLatencyRdmaSizeHint(FaultScript.Tokens, 2 * FaultScript.Hidden, ranks, FaultScript.Experts(ranks)), lowLatencyMode: true,
            new EpBufferOptions { Backend = backend, Timeout = timeout, EnableShrink = shrink, Device = backend == EpBackendKind.Kernels ? 0 : null });
        var script = new FaultScript(fault, group.Rank, numSms > 0 ? new EpConfig(numSms, 6, 256) : null);
        var clock = Stopwatch.StartNew();
        int status = 0;
        try
        {
            script.Run(buffer, faulty: null, clock, () => Raise(fault, group.Rank));
            FaultScript.Settle(buffer);
            if (shrink)
            {
                int[] mask = FaultScript.Mask(buffer);
                buffer.LowLatencyCleanMaskBuffer();
                Console.WriteLine($"mask {string.Join(",", mask)}; cleaning cleared it: {FaultScript.Mask(buffer).All(m => m == 0)}");
            }
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"failed after {(clock.Elapsed - script.StepStarted).TotalSeconds:F2} s in its last step: {error}");
            status = 1;
        }
        try
        {
            buffer.Dispose();
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"did not dispose cleanly: {error}");
            status = 2;
        }
        return status;
    }

    private static void Raise(FaultCase fault, int rank)
    {
        string signal = fault.Kind == FaultKind.Kill ? "KILL" : "STOP";
        Console.WriteLine($"{LaunchedRanks.CasualtyMarker} rank {rank}: SIG{signal} at {fault.Step}");
        using Process kill = Process.Start("kill", [$"-{signal}", Invariant(Environment.ProcessId)]);
        kill.WaitForExit();
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
