using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Tests.Cuda;

public sealed class GpuUnavailableTests
{
    [Fact]
    public void IsAvailableNeverThrows()
    {
        bool available = CudaDevice.IsAvailable;
        Assert.Equal(available, CudaDevice.UnavailableReason is null);
    }

    [Fact]
    public void GpuEntryPointsThrowOneClearExceptionListingTheSearch()
    {
        Assert.SkipWhen(CudaDevice.IsAvailable, "A GPU is available here; this test covers machines without one.");
        var e = Assert.Throws<GpuUnavailableException>(() => CudaDevice.Count);
        Assert.Contains("CUDA", e.Message, StringComparison.Ordinal);
        Assert.Contains("libcuda.so.1", e.Message, StringComparison.Ordinal);
        Assert.NotEmpty(e.Searched);
        Assert.Throws<GpuUnavailableException>(() => DeviceTensor.Empty(DType.Float32, [4], device: 0));
        Assert.Throws<GpuUnavailableException>(() => new CudaStream(0));
    }

    [Fact]
    public void CallSiteNamesTheApi()
    {
        Assert.Equal("cuMemAlloc_v2", CudaCheck.ApiName("CudaDriver.cuMemAlloc_v2(out nint p, (nuint)bytes)"));
        Assert.Equal("cuInit", CudaCheck.ApiName("cuInit(0)"));
        Assert.Equal("nvrtcCompileProgram", CudaCheck.ApiName("Nvrtc.nvrtcCompileProgram(program, n, options)"));
    }

    [Fact]
    public void ComputeCapabilityMapsToTheNvrtcArchitecture()
    {
        Assert.Equal("sm_90a", new ComputeCapability(9, 0).NvrtcArchitecture);
        Assert.Equal("sm_100a", new ComputeCapability(10, 0).NvrtcArchitecture);
        Assert.Equal("sm_80", new ComputeCapability(8, 0).NvrtcArchitecture);
        Assert.True(new ComputeCapability(9, 0).CompareTo(new ComputeCapability(8, 9)) > 0);
    }
}
