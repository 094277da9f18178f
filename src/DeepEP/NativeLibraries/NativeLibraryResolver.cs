using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using DeepEP.Configuration;

namespace DeepEP.NativeLibraries;

/// <summary>
/// The one <see cref="NativeLibrary.SetDllImportResolver"/> of this assembly: maps the names in the
/// <c>[LibraryImport]</c> declarations to files found by <see cref="NativeLibraryProbing"/>. Each search runs once
/// per process; its record of places tried is kept for <c>GpuUnavailableException</c>.
/// </summary>
internal static class NativeLibraryResolver
{
    /// <summary>The CUDA driver's import name.</summary>
    public const string CudaLibraryName = "libcuda.so.1";

    /// <summary>NVRTC's import name (the major version is found at run time).</summary>
    public const string NvrtcLibraryName = "libnvrtc.so";

    /// <summary>NCCL's import name.</summary>
    public const string NcclLibraryName = "libnccl.so.2";

    private static readonly ConcurrentDictionary<NativeLibraryKind, Lazy<NativeLibraryProbe>> s_probes = new();
    private static int s_registered;

    /// <summary>Installs the resolver (idempotent; the interop classes call it from their static constructors).</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
        }
    }

    /// <summary>The search for <paramref name="kind"/>, run on first call and remembered.</summary>
    public static NativeLibraryProbe Probe(NativeLibraryKind kind) =>
        s_probes.GetOrAdd(kind, k => new Lazy<NativeLibraryProbe>(() =>
            NativeLibraryProbing.Run(k, EnvironmentKnobs.Current, () => PythonSitePackages.Folders, NativeLibrary.TryLoad))).Value;

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        NativeLibraryKind? kind = libraryName switch
        {
            CudaLibraryName => NativeLibraryKind.Cuda,
            NvrtcLibraryName => NativeLibraryKind.Nvrtc,
            NcclLibraryName => NativeLibraryKind.Nccl,
            _ => null,
        };
        if (kind is null)
        {
            return 0;
        }
        NativeLibraryProbe probe = Probe(kind.Value);
        return probe.Found ? probe.Handle : throw new DllNotFoundException(probe.Describe());
    }
}
