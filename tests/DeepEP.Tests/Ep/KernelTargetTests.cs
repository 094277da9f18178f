using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Tests.Ep;

/// <summary>
/// The DeepEP V1 members about where kernels run (issue 15 item 8): <see cref="EpBuffer.GetCommStream"/>,
/// <see cref="EpBuffer.GetKernelArchitecture"/> and <see cref="EpBuffer.IsSm90Compiled"/>, as far as they run without a GPU.
/// </summary>
public sealed class KernelTargetTests
{
    [Fact]
    public void HostBufferHasNoCommStream()
    {
        using var buffer = HostBuffers.Single();
        var e = Assert.Throws<InvalidOperationException>(buffer.GetCommStream);
        Assert.Contains("Host backend", e.Message, StringComparison.Ordinal);
        Assert.Contains("no communication stream", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DisposedBufferRefusesGetCommStream()
    {
        var buffer = HostBuffers.Single();
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(buffer.GetCommStream);
    }

    [Fact]
    public void NegativeDeviceIsRefused() =>
        HostBuffers.Throws<ArgumentOutOfRangeException>("device", () => EpBuffer.GetKernelArchitecture(-1));

    [Fact]
    public void KernelArchitectureIsTheDevicesNvrtcTarget()
    {
        if (CudaDevice.IsAvailable)
        {
            Assert.Equal(CudaDevice.Get(0).ComputeCapability.NvrtcArchitecture, EpBuffer.GetKernelArchitecture(0));
            HostBuffers.Throws<ArgumentOutOfRangeException>("device", () => EpBuffer.GetKernelArchitecture(CudaDevice.Count));
        }
        else
        {
            Assert.Throws<GpuUnavailableException>(() => EpBuffer.GetKernelArchitecture(0));
        }
    }

    [Theory]
    [InlineData(9, 0, "sm_90a")]
    [InlineData(10, 0, "sm_100a")]
    [InlineData(8, 0, "sm_80")]
    public void NvrtcTargetCarriesTheArchitectureSuffixFromHopperOn(int major, int minor, string expected) =>
        Assert.Equal(expected, new ComputeCapability(major, minor).NvrtcArchitecture);

    [Theory]
    [InlineData(true, 12, 0, true)]
    [InlineData(true, 13, 0, true)]
    [InlineData(true, 11, 8, false)]
    [InlineData(false, 13, 0, false)]
    public void Sm90NeedsNvrtc12(bool found, int major, int minor, bool expected) =>
        Assert.Equal(expected, EpBuffer.CanTargetSm90(found, () => (major, minor)));

    [Fact]
    public void MissingNvrtcIsNotAskedItsVersion() =>
        Assert.False(EpBuffer.CanTargetSm90(false, () => throw new InvalidOperationException("must not be called")));

    [Fact]
    public void IsSm90CompiledNeverThrows() => _ = EpBuffer.IsSm90Compiled;
}
