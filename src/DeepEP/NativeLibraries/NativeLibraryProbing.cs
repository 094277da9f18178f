using System.Runtime.InteropServices;
using DeepEP.Configuration;

namespace DeepEP.NativeLibraries;

/// <summary>
/// The search for one native library, in order: the <c>DEEPEP_*_LIBRARY</c> override, the dynamic loader's own
/// search (sonames), <c>$CUDA_HOME/lib64</c>, <c>/usr/local/cuda/lib64</c> (and the driver's container mount for
/// <c>libcuda</c>), then, only if all of those failed, the <c>nvidia/*/lib</c> folders of python3's site-packages.
/// </summary>
internal static class NativeLibraryProbing
{
    private static readonly string[] s_cudaSonames = ["libcuda.so.1"];
    private static readonly string[] s_nvrtcSonames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"];
    private static readonly string[] s_ncclSonames = ["libnccl.so.2"];

    /// <summary>The human name used in messages.</summary>
    public static string DisplayName(NativeLibraryKind kind) => kind switch
    {
        NativeLibraryKind.Cuda => "CUDA driver (libcuda.so.1)",
        NativeLibraryKind.Nvrtc => "NVRTC (libnvrtc.so.*)",
        _ => "NCCL (libnccl.so.2)",
    };

    /// <summary>Runs the search.</summary>
    /// <param name="kind">The library.</param>
    /// <param name="environment">Where the overrides and <c>CUDA_HOME</c> come from.</param>
    /// <param name="pythonSitePackages">Called only when every earlier place failed.</param>
    /// <param name="tryLoad">Loads a path or soname (<see cref="NativeLibrary.TryLoad(string, out nint)"/> in production).</param>
    public static NativeLibraryProbe Run(
        NativeLibraryKind kind,
        EnvironmentKnobs environment,
        Func<IReadOnlyList<string>> pythonSitePackages,
        TryLoadLibrary tryLoad)
    {
        var attempts = new List<string>();

        string? overridePath = kind switch
        {
            NativeLibraryKind.Cuda => environment.CudaLibrary,
            NativeLibraryKind.Nvrtc => environment.NvrtcLibrary,
            _ => environment.NcclLibrary,
        };
        if (overridePath is not null)
        {
            string variable = kind switch
            {
                NativeLibraryKind.Cuda => EnvironmentKnobs.CudaLibraryVariable,
                NativeLibraryKind.Nvrtc => EnvironmentKnobs.NvrtcLibraryVariable,
                _ => EnvironmentKnobs.NcclLibraryVariable,
            };
            if (tryLoad(overridePath, out nint handle))
            {
                return new NativeLibraryProbe(kind, handle, overridePath, attempts);
            }
            attempts.Add($"{variable}={overridePath} (did not load)");
        }

        foreach (string soname in Sonames(kind))
        {
            if (tryLoad(soname, out nint handle))
            {
                return new NativeLibraryProbe(kind, handle, soname, attempts);
            }
            attempts.Add($"{soname} via the dynamic loader (LD_LIBRARY_PATH, ld.so.cache)");
        }

        var folders = new List<string>();
        if (environment.CudaHome is { } cudaHome)
        {
            folders.Add(Path.Combine(cudaHome, "lib64"));
        }
        folders.Add("/usr/local/cuda/lib64");
        if (kind == NativeLibraryKind.Cuda)
        {
            folders.Add("/usr/local/nvidia/lib64");
        }
        if (TryFolders(kind, folders, attempts, tryLoad) is { } fromFolders)
        {
            return fromFolders;
        }

        IReadOnlyList<string> sitePackages = pythonSitePackages();
        if (sitePackages.Count == 0)
        {
            attempts.Add("python3 site-packages (python3 not found or reported none)");
        }
        var pythonFolders = new List<string>();
        foreach (string sitePackage in sitePackages)
        {
            string nvidia = Path.Combine(sitePackage, "nvidia");
            if (!Directory.Exists(nvidia))
            {
                attempts.Add($"{nvidia}/*/lib (no such folder)");
                continue;
            }
            foreach (string package in Directory.GetDirectories(nvidia).Order(StringComparer.Ordinal))
            {
                pythonFolders.Add(Path.Combine(package, "lib"));
            }
        }
        return TryFolders(kind, pythonFolders, attempts, tryLoad) ?? new NativeLibraryProbe(kind, 0, null, attempts);
    }

    private static NativeLibraryProbe? TryFolders(NativeLibraryKind kind, IEnumerable<string> folders, List<string> attempts, TryLoadLibrary tryLoad)
    {
        foreach (string folder in folders)
        {
            if (!Directory.Exists(folder))
            {
                attempts.Add($"{folder} (no such folder)");
                continue;
            }
            IReadOnlyList<string> files = CandidateFiles(kind, folder);
            if (files.Count == 0)
            {
                attempts.Add($"{folder} (no {string.Join(" or ", Sonames(kind))})");
                continue;
            }
            foreach (string file in files)
            {
                if (tryLoad(file, out nint handle))
                {
                    return new NativeLibraryProbe(kind, handle, file, attempts);
                }
                attempts.Add($"{file} (present but did not load)");
            }
        }
        return null;
    }

    private static IReadOnlyList<string> Sonames(NativeLibraryKind kind) => kind switch
    {
        NativeLibraryKind.Cuda => s_cudaSonames,
        NativeLibraryKind.Nvrtc => s_nvrtcSonames,
        _ => s_ncclSonames,
    };

    private static IReadOnlyList<string> CandidateFiles(NativeLibraryKind kind, string folder)
    {
        var files = Sonames(kind).Select(name => Path.Combine(folder, name)).Where(File.Exists).ToList();
        if (kind == NativeLibraryKind.Nvrtc)
        {
            // Any other major version the folder holds (libnvrtc.so.14, …), newest name first.
            files.AddRange(Directory.GetFiles(folder, "libnvrtc.so.*").OrderDescending(StringComparer.Ordinal).Where(f => !files.Contains(f)));
        }
        return files;
    }
}

/// <summary>Loads a native library by path or soname; false when it does not load.</summary>
internal delegate bool TryLoadLibrary(string pathOrName, out nint handle);
