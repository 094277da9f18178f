using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Backends;

/// <summary>Chooses and creates the engine behind an <see cref="EpBuffer"/> (design §5).</summary>
internal static class BackendFactory
{
    /// <summary>The backend kind: the options', else the environment's, else kernels with a GPU and host without.</summary>
    public static EpBackendKind Resolve(EpBufferOptions options) =>
        options.Backend ?? EpEnvironment.Current.Backend ?? (CudaDevice.IsAvailable ? EpBackendKind.Kernels : EpBackendKind.Host);

    public static IEpBackend Create(ProcessGroup group, EpBufferOptions options, long numNvlBytes)
    {
        EpBackendKind kind = Resolve(options);
        return kind switch
        {
            EpBackendKind.Host => new Host.HostBackend(group, options.EnableShrink),
            EpBackendKind.Kernels => new Kernels.KernelBackend(group, options, numNvlBytes),
            _ => throw new NotSupportedException(
                $"The {kind.ToString().ToLowerInvariant()} backend is not available in this build; use DEEPEP_BACKEND=host (or EpBufferOptions.Backend = EpBackendKind.Host)."),
        };
    }
}
