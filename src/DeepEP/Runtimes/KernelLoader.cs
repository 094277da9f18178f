using System.Collections.Concurrent;
using DeepEP.Cuda;
using DeepEP.Jit;

namespace DeepEP.Runtimes;

/// <summary>Compiles (through the JIT caches) and remembers one kernel instantiation per device, so launches do no hashing.</summary>
internal static class KernelLoader
{
    // Lazy: ranks that are threads on one GPU ask for the same kernel at once; one compiles, the others wait for it.
    private static readonly ConcurrentDictionary<(int Device, string Expression), Lazy<CudaKernel>> Kernels = new();

    /// <summary>The kernel <paramref name="expression"/> (e.g. <c>deep_ep::intranode_dispatch&lt;896&gt;</c>) of header <paramref name="include"/>.</summary>
    public static CudaKernel Get(int device, string include, string expression) =>
        Kernels.GetOrAdd((device, expression), key => new Lazy<CudaKernel>(() =>
        {
            KernelProgram program = KernelProgram.Create(key.Expression, [include], KernelDefines.All, [key.Expression]);
            return KernelCompiler.Shared.GetKernel(program, key.Expression, CudaDevice.Get(key.Device));
        })).Value;
}
