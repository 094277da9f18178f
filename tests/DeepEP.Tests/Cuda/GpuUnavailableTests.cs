using DeepEP.Cuda;
using DeepEP.Interop;
using DeepEP.NativeLibraries;
using DeepEP.Tensors;
using DeepEP.Tests.NativeLibraries;

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
    public void EntryPointsThrowExactlyWhenNoGpuIsUsable()
    {
        if (CudaDevice.IsAvailable)
        {
            Assert.True(CudaDevice.Count > 0);
            return;
        }
        Assert.Throws<GpuUnavailableException>(() => CudaDevice.Count);
        Assert.Throws<GpuUnavailableException>(() => DeviceTensor.Empty(DType.Float32, [4], device: 0));
        Assert.Throws<GpuUnavailableException>(() => new CudaStream(0));
    }

    [Fact]
    public void AMissingDriverIsOneClearExceptionListingTheSearch()
    {
        NativeLibraryProbe probe = FakeProbes.Missing(NativeLibraryKind.Cuda);
        string? failure = CudaDriverLoader.DescribeFailure(probe, () => throw new InvalidOperationException("cuInit must not run without a driver"));
        Assert.NotNull(failure);
        GpuUnavailableException e = CudaDriverLoader.Unavailable(failure, probe);
        Assert.Contains("CUDA", e.Message, StringComparison.Ordinal);
        Assert.Contains("libcuda.so.1", e.Message, StringComparison.Ordinal);
        Assert.NotEmpty(e.Searched);
        Assert.Equal(probe.Attempts, e.Searched);
    }

    [Fact]
    public void ADriverWithoutDevicesSaysWhereItLoadedFrom()
    {
        NativeLibraryProbe probe = FakeProbes.Found(NativeLibraryKind.Cuda);
        string? failure = CudaDriverLoader.DescribeFailure(probe, () => CuResult.NoDevice);
        Assert.NotNull(failure);
        Assert.Contains("CUDA_ERROR_NO_DEVICE", failure, StringComparison.Ordinal);
        Assert.Contains(probe.LoadedFrom!, failure, StringComparison.Ordinal);
        Assert.Contains("CUDA_VISIBLE_DEVICES", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void ALibraryThatIsNotADriverIsNamed()
    {
        NativeLibraryProbe probe = FakeProbes.Found(NativeLibraryKind.Cuda);
        string? failure = CudaDriverLoader.DescribeFailure(probe, () => throw new EntryPointNotFoundException("cuInit"));
        Assert.NotNull(failure);
        Assert.Contains($"{probe.LoadedFrom} is not a CUDA driver", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void ADriverThatInitialisesIsNoFailure() =>
        Assert.Null(CudaDriverLoader.DescribeFailure(FakeProbes.Found(NativeLibraryKind.Cuda), () => CuResult.Success));

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
