using DeepEP.Interop;

namespace DeepEP.Cuda;

/// <summary>Loads the CUDA driver and runs <c>cuInit</c> once per process; the failure, if any, is remembered.</summary>
internal static class CudaDriverLoader
{
    private const string ModuleLoadingVariable = "CUDA_MODULE_LOADING";

    private static readonly Lazy<string?> s_failure = new(Initialize);

    /// <summary>Why the driver is unusable, or null when it initialised.</summary>
    public static string? Failure => s_failure.Value;

    /// <summary>Throws <see cref="GpuUnavailableException"/> unless the driver loaded and initialised.</summary>
    public static void EnsureInitialized()
    {
        if (s_failure.Value is { } failure)
        {
            throw new GpuUnavailableException(failure, NativeLibraryResolver.Probe(NativeLibraryKind.Cuda).Attempts);
        }
    }

    private static string? Initialize()
    {
        NativeLibraryProbe probe = NativeLibraryResolver.Probe(NativeLibraryKind.Cuda);
        if (!probe.Found)
        {
            return $"No CUDA GPU: {probe.Describe()}.";
        }
        try
        {
            PreferEagerModuleLoading();
            CuResult result = CudaDriver.cuInit(0);
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

    // Lazy loading (the default since CUDA 12.2) loads a kernel at its first launch and may synchronise the context to
    // do it, which deadlocks while another rank's kernel on the same GPU spins waiting for this rank (CUDA's lazy
    // loading guide names this case). Unless the user chose a mode, load every kernel of a module when it is loaded.
    private static void PreferEagerModuleLoading()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable(ModuleLoadingVariable) is null)
        {
            _ = LibC.SetEnv(ModuleLoadingVariable, "EAGER", overwrite: 0);
        }
    }
}
