using System.Reflection;

namespace DeepEP.Jit;

/// <summary>
/// The kernel sources embedded in the assembly (<c>Kernels/deep_ep/**</c>, resource name = include path). All of
/// them are handed to NVRTC as headers, so <c>#include &lt;deep_ep/common/ptx.cuh&gt;</c> works without files on disk.
/// </summary>
internal static class KernelSourceTree
{
    private static readonly Lazy<IReadOnlyList<KernelHeader>> s_headers = new(() => Load(typeof(KernelSourceTree).Assembly));

    /// <summary>This assembly's kernel sources, ordered by include name.</summary>
    public static IReadOnlyList<KernelHeader> Headers => s_headers.Value;

    /// <summary>Reads the <c>.cuh</c> and <c>.cu</c> resources of <paramref name="assembly"/>, ordered by include name.</summary>
    public static IReadOnlyList<KernelHeader> Load(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var headers = new List<KernelHeader>();
        foreach (string name in assembly.GetManifestResourceNames())
        {
            if (!name.EndsWith(".cuh", StringComparison.Ordinal) && !name.EndsWith(".cu", StringComparison.Ordinal))
            {
                continue;
            }
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            headers.Add(new KernelHeader(name.Replace('\\', '/'), reader.ReadToEnd()));
        }
        headers.Sort((a, b) => string.CompareOrdinal(a.IncludeName, b.IncludeName));
        return headers;
    }
}
