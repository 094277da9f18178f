using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Cuda;

[Collection(GpuCollection.Name)]
public sealed class StreamEventTests(GpuFixture gpu)
{
    [Fact]
    public void HighPriorityStreamUsesTheGreatestPriority()
    {
        gpu.Require();
        (int least, int greatest) = CudaStream.GetPriorityRange(0);
        Assert.True(greatest <= least);
        using CudaStream stream = CudaStream.CreateHighPriority(0);
        Assert.Equal(greatest, stream.Priority);
        stream.Synchronize();
        Assert.True(stream.IsIdle);
    }

    [Fact]
    public void TimingEventsMeasureQueuedWork()
    {
        gpu.Require();
        using var stream = new CudaStream(0);
        using DeviceTensor big = DeviceTensor.Empty(DType.UInt8, [1L << 30], device: 0, stream: stream);
        using var start = new CudaEvent(0, enableTiming: true);
        using var end = new CudaEvent(0, enableTiming: true);
        start.Record(stream);
        for (int i = 0; i < 4; i++)
        {
            big.FillBytes((byte)i, stream);
        }
        end.Record(stream);
        end.Synchronize();
        Assert.True(end.IsComplete);
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        TestContext.Current.TestOutputHelper?.WriteLine($"4 x 1 GiB memset: {ms:F3} ms ({4.0 / (ms / 1000):F0} GiB/s)");
        Assert.InRange(ms, 0.01f, 10_000f);
    }

    [Fact]
    public void StreamWaitOrdersWorkAcrossStreams()
    {
        gpu.Require();
        using var producer = new CudaStream(0);
        using var consumer = new CudaStream(0);
        const int n = 64 << 20;
        using DeviceTensor source = DeviceTensor.Empty(DType.UInt8, [n], device: 0, stream: producer);
        using DeviceTensor target = DeviceTensor.Empty(DType.UInt8, [n], device: 0, stream: consumer);
        target.FillBytes(0, consumer);
        for (int i = 0; i < 8; i++)
        {
            source.FillBytes((byte)(0x10 + i), producer);
        }
        using CudaEvent done = producer.RecordEvent();
        done.StreamWait(consumer);
        DeviceMemory.CopyAsync(0, target.Pointer, source.Pointer, n, consumer);
        consumer.Synchronize();
        byte[] result = target.ToArray<byte>();
        Assert.Equal(0x17, result[0]);
        Assert.Equal(0x17, result[^1]);
    }

    [Fact]
    public void CapturedGraphReplaysItsWork()
    {
        gpu.Require();
        using var stream = new CudaStream(0);
        using DeviceTensor a = DeviceTensor.Empty(DType.UInt8, [4096], device: 0, stream: stream);
        using DeviceTensor b = DeviceTensor.Empty(DType.UInt8, [4096], device: 0, stream: stream);
        stream.Synchronize();
        using CudaGraph graph = CudaGraph.Capture(stream, s =>
        {
            a.FillBytes(0x5A, s);
            DeviceMemory.CopyAsync(0, b.Pointer, a.Pointer, 4096, s);
        });
        b.FillBytes(0, stream);
        stream.Synchronize();
        Assert.All(b.ToArray<byte>(), x => Assert.Equal(0, x));
        graph.Launch(stream);
        graph.Launch(stream);
        stream.Synchronize();
        Assert.All(b.ToArray<byte>(), x => Assert.Equal(0x5A, x));
    }
}
