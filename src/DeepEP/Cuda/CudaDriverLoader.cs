using DeepEP.Interop;
using DeepEP.NativeLibraries;

namespace DeepEP.Cuda;

/// <summary>Loads the CUDA driver and runs <c>cuInit</c> once per process; the failure, if any, is remembered.</summary>
internal static class CudaDriverLoader
{
    private const string ModuleLoadingVariable = "CUDA_MODULE_LOADING";
    private const string MaxConnectionsVariable = "CUDA_DEVICE_MAX_CONNECTIONS";

    private static readonly Lazy<string?> s_failure = new(Initialize);

    /// <summary>Why the driver is unusable, or null when it initialised.</summary>
    public static string? Failure => s_failure.Value;

    /// <summary>Throws <see cref="GpuUnavailableException"/> unless the driver loaded and initialised.</summary>
    public static void EnsureInitialized()
    {
        if (s_failure.Value is { } failure)
        {
            throw Unavailable(failure, NativeLibraryResolver.Probe(NativeLibraryKind.Cuda));
        }
    }

    /// <summary>The exception <see cref="EnsureInitialized"/> throws for <paramref name="failure"/>, with <paramref name="probe"/>'s places searched.</summary>
    internal static GpuUnavailableException Unavailable(string failure, NativeLibraryProbe probe) => new(failure, probe.Attempts);

    /// <summary>
    /// Why the driver that <paramref name="probe"/> found (or did not) is unusable, or null when <paramref name="init"/>
    /// (<c>cuInit</c>, called only when the library was found) succeeds.
    /// </summary>
    internal static string? DescribeFailure(NativeLibraryProbe probe, Func<CuResult> init)
    {
        if (!probe.Found)
        {
            return $"No CUDA GPU: {probe.Describe()}.";
        }
        try
        {
            CuResult result = init();
            return result switch
            {
                CuResult.Success => null,
                CuResult.NoDevice => $"No CUDA GPU: the driver loaded from {probe.LoadedFrom} reports no device (cuInit: CUDA_ERROR_NO_DEVICE; check CUDA_VISIBLE_DEVICES).",
                _ => $"No usable CUDA GPU: cuInit failed with {CudaCheck.Exception(result, "cuInit(0)").ErrorName} ({(int)result}) using the driver at {probe.LoadedFrom}.",
            };
        }
        catch (EntryPointNotFoundException e)
        {
            return $"No usable CUDA GPU: {probe.LoadedFrom} is not a CUDA driver ({e.Message}).";
        }
    }

    private static string? Initialize() => DescribeFailure(NativeLibraryResolver.Probe(NativeLibraryKind.Cuda), () =>
    {
        SetDriverDefaults();
        return CudaDriver.cuInit(0);
    });

    // Unless the user set them, before cuInit reads them:
    // - Lazy loading (the default since CUDA 12.2) loads a kernel at its first launch and may synchronise the context
    //   to do it, which deadlocks while another rank's kernel on the same GPU spins waiting for this rank (CUDA's lazy
    //   loading guide names this case): load every kernel of a module when the module is loaded.
    // - Streams share the device's hardware queues (8 by default) and two streams in one queue run in order, so one
    //   rank's spinning kernel could hold back another rank's it waits for: use the most queues, 32.
    private static void SetDriverDefaults()
    {
        foreach ((string name, string value) in new[] { (ModuleLoadingVariable, "EAGER"), (MaxConnectionsVariable, "32") })
        {
            if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable(name) is null)
            {
                _ = LibC.SetEnv(name, value, overwrite: 0);
            }
        }
    }
}
