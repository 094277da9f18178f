using DeepEP.Cuda;

namespace DeepEP.Tests.Gpu;

/// <summary>
/// One CUDA setup per test collection: checks once whether a GPU is usable, makes device 0's primary context
/// current for the collection, and owns a kernel cache folder that is deleted afterwards. Tests call
/// <see cref="Require"/> first, which skips (never fails) them on machines without enough GPUs.
/// </summary>
public sealed class GpuFixture : IDisposable
{
    public GpuFixture()
    {
        UnavailableReason = CudaDevice.UnavailableReason;
        if (UnavailableReason is null)
        {
            DeviceCount = CudaDevice.Count;
            CudaDevice.Get(0).MakeCurrent();
        }
        CacheDirectory = Path.Combine(Path.GetTempPath(), $"deepep-gpu-tests-{Guid.NewGuid():N}");
    }

    /// <summary>Why no GPU is usable, or null.</summary>
    public string? UnavailableReason { get; }

    /// <summary>Visible devices (0 without a GPU).</summary>
    public int DeviceCount { get; }

    /// <summary>A private kernel cache folder for tests that count compilations.</summary>
    public string CacheDirectory { get; }

    /// <summary>Skips the calling test unless at least <paramref name="devices"/> GPUs are usable; <paramref name="why"/> says why it needs them.</summary>
    public void Require(int devices = 1, string? why = null)
    {
        Assert.SkipWhen(UnavailableReason is not null, $"No usable GPU: {UnavailableReason}");
        Assert.SkipWhen(DeviceCount < devices, why ?? $"Needs {devices} GPUs; {DeviceCount} visible.");
    }

    public void Dispose()
    {
        if (Directory.Exists(CacheDirectory))
        {
            Directory.Delete(CacheDirectory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class GpuCollection : ICollectionFixture<GpuFixture>
{
    public const string Name = "gpu";
}
