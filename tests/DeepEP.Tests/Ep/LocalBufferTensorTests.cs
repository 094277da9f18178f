using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary><see cref="EpBuffer.GetLocalBufferTensor"/> on the host backend: typed views of one persistent buffer per kind.</summary>
public sealed class LocalBufferTensorTests
{
    private const long NvlBytes = 4096;
    private const long RdmaBytes = 1024;

    [Fact]
    public void ViewsAliasOneZeroedBufferAtTheirByteOffsets()
    {
        using EpBuffer buffer = HostBuffers.Single(NvlBytes, RdmaBytes);
        var random = new Random(15);
        for (int round = 0; round < 20; round++)
        {
            long offset = random.Next(0, (int)(NvlBytes / 4)) * 4;
            using DeviceTensor ints = buffer.GetLocalBufferTensor(DType.Int32, offset: offset);
            Assert.Equal([(NvlBytes - offset) / 4], ints.Shape.ToArray());
            int[] values = Enumerable.Range(0, (int)ints.NumElements).Select(_ => random.Next()).ToArray();
            ints.CopyFrom<int>(values);
            using DeviceTensor bytes = buffer.GetLocalBufferTensor(DType.UInt8, [2, (NvlBytes - offset) / 2], offset);
            Assert.Equal(values.SelectMany(BitConverter.GetBytes).ToArray(), bytes.ToArray<byte>());
        }
        using DeviceTensor rdma = buffer.GetLocalBufferTensor(DType.Int64, useRdmaBuffer: true);
        Assert.Equal([RdmaBytes / 8], rdma.Shape.ToArray());
        Assert.All(rdma.ToArray<long>(), v => Assert.Equal(0, v));
    }

    [Fact]
    public void SizeShapesTheLeadingElementsAndTheViewDiesWithTheBuffer()
    {
        EpBuffer buffer = HostBuffers.Single(NvlBytes);
        DeviceTensor view = buffer.GetLocalBufferTensor(DType.BFloat16, [3, 5], offset: 6);
        Assert.Equal([3, 5], view.Shape.ToArray());
        Assert.True(view.IsContiguous);
        Assert.Equal(DeviceTensor.HostDevice, view.Device);
        view.At<BFloat16>(2, 4) = BFloat16.FromFloat(1.5f);
        using (DeviceTensor flat = buffer.GetLocalBufferTensor(DType.BFloat16, offset: 6))
        {
            Assert.Equal(1.5f, (float)flat.At<BFloat16>(14));
        }
        buffer.Dispose();
        Assert.True(view.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => view.ToArray<BFloat16>());
        Assert.Throws<ObjectDisposedException>(() => buffer.GetLocalBufferTensor(DType.UInt8));
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        using EpBuffer buffer = HostBuffers.Single(NvlBytes);
        HostBuffers.Throws<ArgumentException>("offset", () => buffer.GetLocalBufferTensor(DType.Float32, offset: 6));
        HostBuffers.Throws<ArgumentException>("offset", () => buffer.GetLocalBufferTensor(DType.UInt8, offset: NvlBytes + 1));
        HostBuffers.Throws<ArgumentException>("offset", () => buffer.GetLocalBufferTensor(DType.UInt8, offset: -1));
        HostBuffers.Throws<ArgumentException>("size", () => buffer.GetLocalBufferTensor(DType.Int64, [NvlBytes / 8 + 1]));
        HostBuffers.Throws<ArgumentException>("size", () => buffer.GetLocalBufferTensor(DType.Int64, [2, NvlBytes / 16], offset: 8));
        HostBuffers.Throws<ArgumentException>("size", () => buffer.GetLocalBufferTensor(DType.Int64, [-1]));
        HostBuffers.Throws<ArgumentException>("useRdmaBuffer", () => buffer.GetLocalBufferTensor(DType.UInt8, useRdmaBuffer: true));
        using DeviceTensor empty = buffer.GetLocalBufferTensor(DType.UInt8, offset: NvlBytes);
        Assert.Equal(0, empty.NumElements);
    }

    [Fact]
    public void AnEmptyBufferIsRefused()
    {
        using EpBuffer buffer = HostBuffers.Single(nvlBytes: 0, rdmaBytes: RdmaBytes);
        HostBuffers.Throws<ArgumentException>("useRdmaBuffer", () => buffer.GetLocalBufferTensor(DType.UInt8));
        using DeviceTensor rdma = buffer.GetLocalBufferTensor(DType.UInt8, useRdmaBuffer: true);
        Assert.Equal(RdmaBytes, rdma.NumElements);
    }
}
