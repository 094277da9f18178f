using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Interop;
using DeepEP.NativeLibraries;

namespace DeepEP.Cli.Bench;

/// <summary>
/// The backend <c>deepep bench</c> runs and why: <c>--backend</c>, else <c>DEEPEP_BACKEND</c> (or <c>DEEP_USE_MODE</c>),
/// else kernels with a GPU and the CPU reference without one; and whether this machine can run it.
/// </summary>
/// <param name="Kind">The backend.</param>
/// <param name="Reason">Why this one, for <c>info</c> and error messages: "--backend kernels", "the default: no GPU is usable here", ….</param>
internal sealed record BenchBackendChoice(EpBackendKind Kind, string Reason)
{
    /// <summary>Resolves the backend from <paramref name="option"/> (the <c>--backend</c> value, if given) and the environment.</summary>
    public static BenchBackendChoice Resolve(EpBackendKind? option)
    {
        if (option is { } chosen)
        {
            return new(chosen, $"--backend {Name(chosen)}");
        }
        if (EnvironmentBackend() is { } fromEnvironment)
        {
            return new(fromEnvironment, $"chosen by {EpEnvironment.BackendVariable} or {EpEnvironment.UseModeVariable}");
        }
        return CudaDevice.IsAvailable
            ? new(EpBackendKind.Kernels, $"the default with GPUs: {CudaDevice.Count} visible")
            : new(EpBackendKind.Host, "the default: no GPU is usable here");
    }

    /// <summary>The environment's backend; a value that names none is a command line that cannot run (status 2).</summary>
    private static EpBackendKind? EnvironmentBackend()
    {
        try
        {
            return EpEnvironment.Current.Backend;
        }
        catch (InvalidOperationException e)
        {
            throw new CliUsageException(e.Message, e);
        }
    }

    /// <summary>
    /// Why <paramref name="kind"/> cannot run here, naming <paramref name="reason"/> (how it was chosen, e.g.
    /// "--compare nccl"), or null when it can: the GPU backends need a GPU, both NVRTC, and NCCL its library.
    /// </summary>
    public static string? Problem(EpBackendKind kind, string reason) =>
        Problem(kind, reason, kind == EpBackendKind.Host ? null : CudaDevice.UnavailableReason, NativeLibraryResolver.Probe);

    /// <summary>
    /// <see cref="Problem(EpBackendKind, string)"/> for a machine where <paramref name="noGpu"/> says why no GPU is
    /// usable (null: one is) and <paramref name="probe"/> finds the native libraries.
    /// </summary>
    internal static string? Problem(EpBackendKind kind, string reason, string? noGpu, Func<NativeLibraryKind, NativeLibraryProbe> probe)
    {
        string source = $"The {Name(kind)} backend ({reason})";
        if (kind == EpBackendKind.Host)
        {
            return null;
        }
        if (noGpu is not null)
        {
            // The search list is long; deepep info prints it.
            string cause = noGpu.Split("; searched", 2)[0].TrimEnd('.');
            return $"{source} needs an NVIDIA GPU, and none is usable here ({cause}; deepep info shows where it looked). Leave the backend out to run the CPU reference (host).";
        }
        // Both GPU backends compile kernels with NVRTC; NCCL's also needs its library.
        NativeLibraryKind[] needed = kind == EpBackendKind.Nccl ? [NativeLibraryKind.Nvrtc, NativeLibraryKind.Nccl] : [NativeLibraryKind.Nvrtc];
        NativeLibraryProbe? missing = needed.Select(probe).FirstOrDefault(p => !p.Found);
        return missing is null ? null : $"{source} needs {missing.Describe()}.";
    }

    /// <summary>The lower-case name the options and the environment use.</summary>
    public static string Name(EpBackendKind kind) => kind.ToString().ToLowerInvariant();
}
