using DeepEP.Configuration;
using DeepEP.Interop;
using DeepEP.NativeLibraries;

namespace DeepEP.Jit;

/// <summary>
/// Finds the CUDA headers NVRTC needs (<c>cuda_bf16.h</c>, <c>cuda_fp8.h</c> and what they include), in order:
/// <c>$CUDA_HOME/include</c>, beside the loaded NVRTC library (<c>../include</c>, <c>../../include</c>),
/// <c>/usr/local/cuda/include</c>, then the <c>nvidia/*/include</c> folders of python3's site-packages.
/// </summary>
internal static class CudaIncludeLocator
{
    private static readonly string[] s_requiredHeaders = ["cuda_bf16.h", "cuda_fp8.h"];

    /// <summary>The search's outcome: the include folders to pass with <c>-I</c> (empty when none qualified) and the places tried.</summary>
    public sealed record Result(IReadOnlyList<string> IncludeFolders, IReadOnlyList<string> Searched);

    /// <summary>Runs the search.</summary>
    /// <param name="environment">Where <c>CUDA_HOME</c> comes from.</param>
    /// <param name="nvrtcLibraryPath">The NVRTC file that loaded (a path, or a bare soname whose folder is unknown).</param>
    /// <param name="pythonSitePackages">Called only when the earlier places failed.</param>
    public static Result Find(EnvironmentKnobs environment, string? nvrtcLibraryPath, Func<IReadOnlyList<string>> pythonSitePackages)
    {
        var searched = new List<string>();
        var candidates = new List<string>();
        if (environment.CudaHome is { } cudaHome)
        {
            candidates.Add(Path.Combine(cudaHome, "include"));
        }
        if (nvrtcLibraryPath is not null && Path.IsPathRooted(nvrtcLibraryPath))
        {
            string folder = Path.GetDirectoryName(nvrtcLibraryPath)!;
            candidates.Add(Path.GetFullPath(Path.Combine(folder, "..", "include")));
            candidates.Add(Path.GetFullPath(Path.Combine(folder, "..", "..", "include")));
        }
        candidates.Add("/usr/local/cuda/include");
        if (FirstWithHeaders(candidates, searched) is { } found)
        {
            return new Result(WithCccl(found), searched);
        }
        var pythonCandidates = new List<string>();
        foreach (string sitePackage in pythonSitePackages())
        {
            string nvidia = Path.Combine(sitePackage, "nvidia");
            if (Directory.Exists(nvidia))
            {
                pythonCandidates.AddRange(Directory.GetDirectories(nvidia).Order(StringComparer.Ordinal).Select(p => Path.Combine(p, "include")));
            }
        }
        return FirstWithHeaders(pythonCandidates, searched) is { } fromPython
            ? new Result(WithCccl(fromPython), searched)
            : new Result([], searched);
    }

    private static string? FirstWithHeaders(IEnumerable<string> candidates, List<string> searched)
    {
        foreach (string folder in candidates.Distinct(StringComparer.Ordinal))
        {
            if (s_requiredHeaders.All(h => File.Exists(Path.Combine(folder, h))))
            {
                return folder;
            }
            searched.Add($"{folder} ({(Directory.Exists(folder) ? "no " + string.Join(" + ", s_requiredHeaders) : "no such folder")})");
        }
        return null;
    }

    /// <summary>CUDA 13 moved libcu++ (<c>nv/target</c>, <c>cuda/std/*</c>) into <c>include/cccl</c>.</summary>
    private static IReadOnlyList<string> WithCccl(string folder)
    {
        string cccl = Path.Combine(folder, "cccl");
        return Directory.Exists(cccl) ? [folder, cccl] : [folder];
    }

    /// <summary>The production search (process environment, the loaded NVRTC, python3 when needed).</summary>
    public static Result FindForProcess() =>
        Find(EnvironmentKnobs.Current, NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc).LoadedFrom, () => PythonSitePackages.Folders);
}
