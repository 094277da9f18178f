using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

public sealed class LayoutArgumentTests
{
    [Fact]
    public void TopkIdxMustBeInt64()
    {
        using var buffer = HostBuffers.Single();
        using var topk = DeviceTensor.FromArray<int>([0, 1], [1, 2]);
        var e = HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(topk, 8));
        Assert.Contains("Int64", e.Message);
    }

    [Fact]
    public void TopkIdxMustBeTwoDimensional()
    {
        using var buffer = HostBuffers.Single();
        using var topk = DeviceTensor.FromArray<long>([0, 1], [2]);
        HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(topk, 8));
    }

    [Fact]
    public void TopkIdxMustBeContiguous()
    {
        using var buffer = HostBuffers.Single();
        using var topk = DeviceTensor.FromArray<long>([0, 1, 2, 3, 4, 5], [2, 3]);
        HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(topk.Transpose(0, 1), 8));
    }

    [Fact]
    public void TopkIdxMustLiveOnTheBuffersDevice()
    {
        using var buffer = HostBuffers.Single();
        var onGpu = DeviceTensor.FromPointer(0x1000, [4, 2], DType.Int64, device: 0);
        var e = HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(onGpu, 8));
        Assert.Contains("host", e.Message);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(-2)]
    [InlineData(100)]
    public void ExpertIdsOutOfRangeAreRejected(long bad)
    {
        using var buffer = HostBuffers.Single();
        using var topk = HostBuffers.Topk([0, 1, 2, bad], 2);
        var e = HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(topk, 8));
        Assert.Contains("-1 for a masked slot", e.Message);
        Assert.Contains("[1, 1]", e.Message);
    }

    [Fact]
    public void MaskedSlotsAreAccepted()
    {
        using var buffer = HostBuffers.Single();
        using var topk = HostBuffers.Topk([0, -1, -1, 7], 2);
        var layout = buffer.GetDispatchLayout(topk, 8);
        Assert.Equal([1, 0, 0, 0, 0, 0, 0, 1], layout.NumTokensPerExpert.ToArray<int>());
    }

    [Fact]
    public void NumExpertsMustDivideByTheGroupSize()
    {
        EpBuffer[] buffers = HostBuffers.Create(2);
        using var topk = HostBuffers.Topk([0, 1], 2);
        var e = HostBuffers.Throws<ArgumentException>("numExperts", () => buffers[0].GetDispatchLayout(topk, 7));
        Assert.Contains("multiple of the group size 2", e.Message);
    }

    [Fact]
    public void LocalExpertsAreLimited()
    {
        using var buffer = HostBuffers.Single();
        using var topk = HostBuffers.Topk([0], 1);
        HostBuffers.Throws<ArgumentException>("numExperts", () => buffer.GetDispatchLayout(topk, EpBuffer.MaxLocalExperts + 1));
    }

    [Fact]
    public void TopkColumnsAreLimited()
    {
        using var buffer = HostBuffers.Single();
        using var topk = HostBuffers.Topk(new long[EpBuffer.MaxTopk + 1], EpBuffer.MaxTopk + 1);
        HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.GetDispatchLayout(topk, 8));
    }

    [Fact]
    public void AllocateOnCommStreamNeedsAPreviousEventAndAsyncFinish()
    {
        using var buffer = HostBuffers.Single();
        using var topk = HostBuffers.Topk([0, 1], 2);
        HostBuffers.Throws<ArgumentException>("allocateOnCommStream", () => buffer.GetDispatchLayout(topk, 8, allocateOnCommStream: true));
    }
}
