using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary><see cref="EpBuffer.GetLocalBufferTensor"/> on the kernels backend: a device view of this rank's low-latency allocation.</summary>
[Collection(GpuCollection.Name)]
public sealed class LocalBufferTensorKernelTests(GpuFixture gpu)
{
    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void TheLowLatencyBufferIsViewedInPlaceAndTheNormalOneIsRefused(int ranks)
    {
        gpu.Require();
        var c = new LowLatencyCase(Tokens: 8, MaxTokens: 8, Hidden: 1024, Experts: 2 * ranks, Topk: 2, MaskedSlots: 0, UseFp8: false);
        bool[] ok = RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => new EpBuffer(g, EpBuffer.GetDispatchConfig(g.Size).GetNvlBufferSizeHint(c.Hidden * 2, g.Size), c.BufferBytes(g.Size), lowLatencyMode: true,
            new EpBufferOptions { Backend = EpBackendKind.Kernels, Timeout = TimeSpan.FromSeconds(20) }), buffer =>
        {
            var random = new Random(1500 + buffer.Rank);
            int[] values = Enumerable.Range(0, 256).Select(_ => random.Next()).ToArray();
            using DeviceTensor ints = buffer.GetLocalBufferTensor(DType.Int32, [16, 16], offset: 512, useRdmaBuffer: true);
            Assert.Equal(buffer.Device, ints.Device);
            ints.CopyFrom<int>(values);
            using DeviceTensor bytes = buffer.GetLocalBufferTensor(DType.UInt8, [1024], offset: 512, useRdmaBuffer: true);
            Assert.Equal(values.SelectMany(BitConverter.GetBytes).ToArray(), bytes.ToArray<byte>());
            using DeviceTensor whole = buffer.GetLocalBufferTensor(DType.UInt8, useRdmaBuffer: true);
            Assert.Equal(buffer.NumRdmaBytes, whole.NumElements);
            Assert.Equal(ints.Pointer - 512, whole.Pointer);
            Assert.Throws<NotSupportedException>(() => buffer.GetLocalBufferTensor(DType.UInt8, offset: 0, useRdmaBuffer: false));
            return true;
        });
        Assert.All(ok, Assert.True);
    }
}
