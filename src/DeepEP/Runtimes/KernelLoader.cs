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
    private static readonly ConcurrentDictionary<(int Device, string Expression, string? Architecture), Lazy<CudaKernel>> Kernels = new();

    /// <summary>
    /// The kernel <paramref name="expression"/> (e.g. <c>deep_ep::intranode_dispatch&lt;896&gt;</c>) of header <paramref name="include"/>,
    /// for the device's architecture or <paramref name="architecture"/> (tests reach a kernel's other paths this way).
    /// </summary>
    public static CudaKernel Get(int device, string include, string expression, string? architecture = null) =>
        Kernels.GetOrAdd((device, expression, architecture), static (key, include) => new Lazy<CudaKernel>(
            () => Compile(key.Device, Program(include, key.Expression), key.Expression, key.Architecture)), include).Value;

    /// <summary>The kernel <paramref name="expression"/> of <paramref name="program"/>, a program that instantiates several kernels in one compilation.</summary>
    public static CudaKernel Get(int device, KernelProgram program, string expression) =>
        Kernels.GetOrAdd((device, expression, null), static (key, program) => new Lazy<CudaKernel>(
            () => Compile(key.Device, program, key.Expression, null)), program).Value;

    /// <summary>Every kernel loaded so far: its device, its expression and the kernel.</summary>
    public static IEnumerable<(int Device, string Expression, CudaKernel Kernel)> Loaded() =>
        Kernels.Where(entry => entry.Value.IsValueCreated).Select(entry => (entry.Key.Device, entry.Key.Expression, entry.Value.Value));

    /// <summary>The program of one kernel <paramref name="expression"/> of header <paramref name="include"/>, as <see cref="Get(int, string, string, string?)"/> compiles it.</summary>
    public static KernelProgram Program(string include, string expression) =>
        KernelProgram.Create(expression, [include], PhaseTrace.Enabled ? [.. KernelDefines.All, PhaseTrace.Define] : KernelDefines.All, [expression]);

    private static CudaKernel Compile(int device, KernelProgram program, string expression, string? architecture) =>
        KernelCompiler.Shared.GetKernel(program, expression, CudaDevice.Get(device), architecture);
}
