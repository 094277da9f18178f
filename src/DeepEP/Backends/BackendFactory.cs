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

    /// <summary>Creates the backend collectively: <paramref name="numNvlBytes"/> for normal mode, <paramref name="lowLatencyBytes"/> for the low-latency buffer (0 without low-latency mode).</summary>
    public static IEpBackend Create(ProcessGroup group, EpBufferOptions options, long numNvlBytes, long lowLatencyBytes)
    {
        EpBackendKind kind = Resolve(options);
        return kind switch
        {
            EpBackendKind.Host => new Host.HostBackend(group, options.EnableShrink, options.Timeout, numNvlBytes, lowLatencyBytes),
            EpBackendKind.Kernels => new Kernels.KernelBackend(group, options, numNvlBytes, lowLatencyBytes),
            EpBackendKind.Nccl => new Nccl.NcclBackend(group, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), kind, "Unknown backend; valid: kernels, nccl, host."),
        };
    }

    /// <summary>This rank's GPU: the options' device, else <see cref="EpBuffer.GetDefaultDevice"/>; it must exist.</summary>
    public static int ResolveDevice(ProcessGroup group, EpBufferOptions options)
    {
        int device = options.Device ?? EpBuffer.GetDefaultDevice(group);
        if (device < 0 || device >= CudaDevice.Count)
        {
            throw new ArgumentException($"Device {device} does not exist: {CudaDevice.Count} GPU(s) are visible; set EpBufferOptions.Device.", nameof(options));
        }
        return device;
    }
}
