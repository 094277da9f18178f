using DeepEP.Jit;

namespace DeepEP.Tests.Jit;

public sealed class KernelSourceTreeTests
{
    [Fact]
    public void EmbeddedHeadersAreNamedByIncludePath()
    {
        string[] names = KernelSourceTree.Headers.Select(h => h.IncludeName).ToArray();
        Assert.Contains("deep_ep/common/ptx.cuh", names);
        Assert.Contains("deep_ep/common/timeout.cuh", names);
        Assert.Contains("deep_ep/common/utils.cuh", names);
        Assert.Contains("deep_ep/impls/fp8_cast.cuh", names);
        Assert.All(names, n => Assert.StartsWith("deep_ep/", n, StringComparison.Ordinal));
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void HeadersMatchTheFilesInTheSourceTree()
    {
        string kernels = Path.Combine(RepositoryPaths.Root, "src", "DeepEP", "Kernels");
        string[] onDisk = Directory.GetFiles(kernels, "*.cuh", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(kernels, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(onDisk, KernelSourceTree.Headers.Select(h => h.IncludeName).Where(n => n.EndsWith(".cuh", StringComparison.Ordinal)));
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(kernels, header.IncludeName)), header.Content);
        }
    }
}
