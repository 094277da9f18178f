using DeepEP.Jit;

namespace DeepEP.Tests.Jit;

public sealed class KernelDiskCacheTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"deepep-cache-test-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static KernelCacheEntry Entry(string key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") => new(
        key,
        [0x7F, (byte)'E', (byte)'L', (byte)'F', 0, 1, 2, 255],
        "#include <deep_ep/impls/fp8_cast.cuh>\n",
        ["--gpu-architecture=sm_90a", "-std=c++17", "-I/usr/local/cuda/include"],
        "warning: something\n",
        new Dictionary<string, string> { ["deep_ep::fp8_cast<7168, false, false>"] = "_ZN7deep_ep8fp8_castILi7168ELb0ELb0EEEvNS_13Fp8CastParamsE" });

    [Fact]
    public void WrittenEntryReadsBackIdentically()
    {
        var cache = new KernelDiskCache(_root);
        KernelCacheEntry entry = Entry();
        Assert.True(cache.Write(entry));
        KernelCacheEntry? read = cache.TryRead(entry.Key);
        Assert.NotNull(read);
        Assert.Equal(entry.Cubin, read.Cubin);
        Assert.Equal(entry.Source, read.Source);
        Assert.Equal(entry.Options, read.Options);
        Assert.Equal(entry.Log, read.Log);
        Assert.Equal(entry.LoweredNames, read.LoweredNames);
    }

    [Fact]
    public void EntryFolderHoldsCubinSourceOptionsLogAndNames()
    {
        var cache = new KernelDiskCache(_root);
        KernelCacheEntry entry = Entry();
        cache.Write(entry);
        string[] files = Directory.GetFiles(cache.EntryFolder(entry.Key)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(new[] { "compile.log", "kernel.cu", "kernel.cubin", "names.tsv", "options.txt" }, files);
    }

    [Fact]
    public void MissingEntryIsAMiss() => Assert.Null(new KernelDiskCache(_root).TryRead("feedface"));

    [Fact]
    public void IncompleteEntryIsAMissNotAnError()
    {
        var cache = new KernelDiskCache(_root);
        KernelCacheEntry entry = Entry();
        cache.Write(entry);
        File.Delete(Path.Combine(cache.EntryFolder(entry.Key), "kernel.cubin"));
        Assert.Null(cache.TryRead(entry.Key));
    }

    [Fact]
    public void SecondWriterKeepsTheFirstEntryAndLeavesNoTemporaryFolders()
    {
        var cache = new KernelDiskCache(_root);
        Assert.True(cache.Write(Entry()));
        Assert.True(cache.Write(Entry() with { Log = "other" }));
        Assert.Equal("warning: something\n", cache.TryRead(Entry().Key)!.Log);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_root, "kernels"), ".tmp-*"));
    }

    [Fact]
    public void ConcurrentWritersProduceOneCompleteEntry()
    {
        var cache = new KernelDiskCache(_root);
        Parallel.For(0, 16, _ => Assert.True(cache.Write(Entry())));
        Assert.NotNull(cache.TryRead(Entry().Key));
        Assert.Single(Directory.GetDirectories(Path.Combine(_root, "kernels")));
    }

    [Fact]
    public void UnwritableRootReportsFalseInsteadOfThrowing()
    {
        string file = Path.Combine(Path.GetTempPath(), $"deepep-not-a-folder-{Guid.NewGuid():N}");
        File.WriteAllText(file, "");
        try
        {
            Assert.False(new KernelDiskCache(file).Write(Entry()));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
