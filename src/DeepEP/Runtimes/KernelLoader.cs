using System.Collections.Concurrent;
using DeepEP.Cuda;
using DeepEP.Jit;

namespace DeepEP.Runtimes;

/// <summary>
/// Compiles (through the JIT caches) and remembers one kernel instantiation per device, so launches do no hashing: the
/// one per-device kernel cache every runtime uses.
/// </summary>
internal static class KernelLoader
{
    // Lazy: ranks that are threads on one GPU ask for the same kernel at once; one compiles, the others wait for it.
    // Traced: built with the phase timers (PhaseTrace.Enabled when first asked for), kept apart from the plain build.
    private static readonly ConcurrentDictionary<(int Device, string Expression, string? Architecture, bool Traced), Lazy<CudaKernel>> Kernels = new();

    /// <summary>
    /// The kernel <paramref name="expression"/> (e.g. <c>deep_ep::intranode_dispatch&lt;896&gt;</c>) of header <paramref name="include"/>,
    /// for the device's architecture or <paramref name="architecture"/> (tests reach a kernel's other paths this way).
    /// </summary>
    public static CudaKernel Get(int device, string include, string expression, string? architecture = null) =>
        Kernels.GetOrAdd((device, expression, architecture, PhaseTrace.Enabled), static (key, include) => new Lazy<CudaKernel>(
            () => Compile(key.Device, Program(include, key.Expression, key.Traced), key.Expression, key.Architecture)), include).Value;

    /// <summary>The kernel <paramref name="expression"/> of <paramref name="program"/>, a program that instantiates several kernels in one compilation.</summary>
    public static CudaKernel Get(int device, KernelProgram program, string expression) =>
        Kernels.GetOrAdd((device, expression, null, false), static (key, program) => new Lazy<CudaKernel>(
            () => Compile(key.Device, program, key.Expression, null)), program).Value;

    /// <summary>Every kernel built with the phase timers and loaded so far: its device, its expression and the kernel.</summary>
    public static IEnumerable<(int Device, string Expression, CudaKernel Kernel)> LoadedTraced() =>
        Kernels.Where(entry => entry.Key.Traced && entry.Value.IsValueCreated).Select(entry => (entry.Key.Device, entry.Key.Expression, entry.Value.Value));

    /// <summary>
    /// The program of one kernel <paramref name="expression"/> of header <paramref name="include"/>, as <see cref="Get(int, string, string, string?)"/>
    /// compiles it: <paramref name="traced"/> adds the phase timers' define.
    /// </summary>
    public static KernelProgram Program(string include, string expression, bool traced = false) =>
        KernelProgram.Create(expression, [include], traced ? [.. KernelDefines.All, PhaseTrace.Define] : KernelDefines.All, [expression]);

    private static CudaKernel Compile(int device, KernelProgram program, string expression, string? architecture) =>
        KernelCompiler.Shared.GetKernel(program, expression, CudaDevice.Get(device), architecture);
}
