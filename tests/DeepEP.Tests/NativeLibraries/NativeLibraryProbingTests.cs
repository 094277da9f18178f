using DeepEP.Configuration;
using DeepEP.Interop;
using DeepEP.NativeLibraries;

namespace DeepEP.Tests.NativeLibraries;

public sealed class NativeLibraryProbingTests
{
    private static EnvironmentKnobs With(params (string Name, string Value)[] variables) =>
        EnvironmentKnobs.FromVariables(variables.ToDictionary(v => v.Name, v => v.Value));

    [Fact]
    public void OverrideIsTriedFirstAndWins()
    {
        var tried = new List<string>();
        NativeLibraryProbe probe = NativeLibraryProbing.Run(
            NativeLibraryKind.Nccl,
            With((EnvironmentKnobs.NcclLibraryVariable, "/opt/nccl/libnccl.so.2")),
            () => throw new InvalidOperationException("python3 must not be asked when an earlier place worked"),
            (string name, out nint handle) =>
            {
                tried.Add(name);
                handle = 42;
                return true;
            });
        Assert.True(probe.Found);
        Assert.Equal("/opt/nccl/libnccl.so.2", probe.LoadedFrom);
        Assert.Equal(new[] { "/opt/nccl/libnccl.so.2" }, tried);
    }

    [Fact]
    public void EveryFailedPlaceIsRecordedInOrder()
    {
        string cudaHome = Path.Combine(Path.GetTempPath(), $"deepep-no-cuda-{Guid.NewGuid():N}");
        bool askedPython = false;
        NativeLibraryProbe probe = NativeLibraryProbing.Run(
            NativeLibraryKind.Nvrtc,
            With((EnvironmentKnobs.NvrtcLibraryVariable, "/nowhere/libnvrtc.so.13"), (EnvironmentKnobs.CudaHomeVariable, cudaHome)),
            () =>
            {
                askedPython = true;
                return [];
            },
            (string name, out nint handle) =>
            {
                handle = 0;
                return false;
            });
        Assert.False(probe.Found);
        Assert.True(askedPython);
        string[] attempts = probe.Attempts.ToArray();
        Assert.StartsWith("DEEPEP_NVRTC_LIBRARY=/nowhere/libnvrtc.so.13", attempts[0], StringComparison.Ordinal);
        Assert.StartsWith("libnvrtc.so.13 via the dynamic loader", attempts[1], StringComparison.Ordinal);
        Assert.StartsWith("libnvrtc.so.12 via the dynamic loader", attempts[2], StringComparison.Ordinal);
        Assert.Contains(attempts, a => a.StartsWith(Path.Combine(cudaHome, "lib64"), StringComparison.Ordinal));
        Assert.Contains(attempts, a => a.StartsWith("/usr/local/cuda/lib64", StringComparison.Ordinal));
        Assert.Contains(attempts, a => a.StartsWith("python3 site-packages", StringComparison.Ordinal));
        Assert.Contains("NVRTC", probe.Describe(), StringComparison.Ordinal);
        Assert.Contains("/usr/local/cuda/lib64", probe.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void PythonWheelFoldersAreSearchedLast()
    {
        string site = Path.Combine(Path.GetTempPath(), $"deepep-site-{Guid.NewGuid():N}");
        string lib = Path.Combine(site, "nvidia", "nccl", "lib");
        Directory.CreateDirectory(lib);
        string file = Path.Combine(lib, "libnccl.so.2");
        File.WriteAllText(file, "");
        try
        {
            NativeLibraryProbe probe = NativeLibraryProbing.Run(
                NativeLibraryKind.Nccl,
                With(),
                () => [site],
                (string name, out nint handle) =>
                {
                    bool ok = name == file;
                    handle = ok ? 7 : 0;
                    return ok;
                });
            Assert.True(probe.Found);
            Assert.Equal(file, probe.LoadedFrom);
            Assert.Contains(probe.Attempts, a => a.StartsWith("libnccl.so.2 via the dynamic loader", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(site, recursive: true);
        }
    }

    [Fact]
    public void AnyNvrtcMajorVersionInAFolderIsTried()
    {
        string site = Path.Combine(Path.GetTempPath(), $"deepep-site-{Guid.NewGuid():N}");
        string lib = Path.Combine(site, "nvidia", "cu14", "lib");
        Directory.CreateDirectory(lib);
        string file = Path.Combine(lib, "libnvrtc.so.14");
        File.WriteAllText(file, "");
        File.WriteAllText(Path.Combine(lib, "libnvrtc-builtins.so.14.0"), "");
        try
        {
            var tried = new List<string>();
            NativeLibraryProbe probe = NativeLibraryProbing.Run(
                NativeLibraryKind.Nvrtc,
                With(),
                () => [site],
                (string name, out nint handle) =>
                {
                    tried.Add(name);
                    handle = name == file ? 9 : 0;
                    return handle != 0;
                });
            Assert.Equal(file, probe.LoadedFrom);
            Assert.DoesNotContain(tried, t => t.Contains("builtins", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(site, recursive: true);
        }
    }
}
