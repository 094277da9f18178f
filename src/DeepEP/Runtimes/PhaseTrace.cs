using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>
/// The per-phase timers of the communication kernels, low-latency and normal mode (<c>common/phase_trace.cuh</c>, issue 13).
/// While <see cref="Enabled"/> is set (<c>deepep bench --phases</c>), kernels are loaded in a build with <c>DEEPEP_PHASE_TRACE</c>
/// (kept apart from the plain one), which adds, per phase, the nanoseconds each block spends there to a sum in its
/// module; <see cref="Read"/> collects the sums of every traced kernel loaded. The timers synchronise each block at every
/// phase boundary, so traced kernels run a little slower than plain ones: the split is the point, not the total.
/// </summary>
internal static class PhaseTrace
{
    private static volatile bool s_enabled;

    /// <summary>The kernels' sums: nanoseconds per phase, then the block runs.</summary>
    public const string Symbol = "deepep_phase_ns";

    /// <summary>Twin of the kernels' <c>Phase</c> enum, in its order.</summary>
    public static IReadOnlyList<string> Phases { get; } = ["send", "arrive", "wait", "select", "copy", "reduce", "barrier", "publish"];

    /// <summary>Whether kernels asked for from now on carry the timers (built apart from the plain ones, which stay loaded).</summary>
    public static bool Enabled
    {
        get => s_enabled;
        set => s_enabled = value;
    }

    /// <summary>The define that compiles the timers in.</summary>
    public static KeyValuePair<string, string> Define { get; } = new("DEEPEP_PHASE_TRACE", "1");

    /// <summary>
    /// The sums of every loaded kernel built with the timers, after the work queued on each device is done. A kernel
    /// that never ran reports zero block runs.
    /// </summary>
    public static IReadOnlyList<PhaseTotals> Read()
    {
        var traced = KernelLoader.LoadedTraced().ToList();
        foreach (int device in traced.Select(t => t.Device).Distinct())
        {
            CudaDevice.Get(device).Synchronize();
        }
        var totals = new List<PhaseTotals>();
        // Modules of one kernel each (KernelLoader.Program), so a module's sums are its kernel's.
        foreach ((int device, string expression, CudaKernel kernel) in traced)
        {
            if (kernel.Module.TryGetGlobal(Symbol) is not { } global)
            {
                continue;
            }
            // Phases.Count + 1 sums: the kernels' kNumPhases is checked against Phases.Count when they compile.
            var sums = new ulong[Phases.Count + 1];
            unsafe
            {
                fixed (ulong* host = sums)
                {
                    DeviceMemory.Copy(device, (nint)host, global.Pointer, sums.Length * sizeof(ulong));
                }
            }
            totals.Add(new PhaseTotals(device, expression, (long)sums[^1], [.. sums[..^1].Select(ns => (long)ns)]));
        }
        return totals;
    }
}

/// <summary>One traced kernel's sums on one device: <paramref name="BlockRuns"/> block runs, nanoseconds per phase (<see cref="PhaseTrace.Phases"/>).</summary>
internal sealed record PhaseTotals(int Device, string Kernel, long BlockRuns, IReadOnlyList<long> Nanoseconds)
{
    /// <summary>Mean microseconds one block spent in phase <paramref name="phase"/>; 0 when no block ran.</summary>
    public double MicrosecondsPerBlock(int phase) => BlockRuns == 0 ? 0 : Nanoseconds[phase] / 1000.0 / BlockRuns;
}
