using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu;

/// <summary>The INT8 cast that normal dispatch runs with useInt8Quant, bit for bit the host's <see cref="Int8Cast"/>.</summary>
[Collection(GpuCollection.Name)]
public sealed class Int8CastKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, int> Cases => new()
    {
        { 1, 16 },
        { 37, 2048 },
        { 129, 7168 },
        { 5, 4000 },
        { 300, 1152 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void KernelMatchesTheHostReferenceBitForBit(int tokens, int hidden)
    {
        gpu.Require();
        var random = new Random(HashCode.Combine(tokens, hidden));
        var x = new BFloat16[tokens * hidden];
        for (int t = 0; t < tokens; t++)
        {
            // Rows of very different magnitudes, an all-zero row (the amax floor) and exact ties (x · 127 / amax = k + 0.5).
            double magnitude = Math.Pow(10, random.Next(-6, 4));
            for (int h = 0; h < hidden; h++)
            {
                x[(t * hidden) + h] = t == 0 && tokens > 1 ? BFloat16.FromFloat(0) : BFloat16.FromFloat((float)(((random.NextDouble() * 2) - 1) * magnitude));
            }
        }
        if (tokens > 2)
        {
            x[(2 * hidden) + 0] = BFloat16.FromFloat(127);
            x[(2 * hidden) + 1] = BFloat16.FromFloat(0.5f);
            x[(2 * hidden) + 2] = BFloat16.FromFloat(-2.5f);
        }
        using DeviceTensor hostX = DeviceTensor.FromArray<BFloat16>(x, [tokens, hidden]);
        using Int8Tensor expected = Int8Cast.PerTokenCast(hostX);

        using DeviceTensor deviceX = hostX.To(0);
        using DeviceTensor data = DeviceTensor.Empty(DType.Int8, [tokens, hidden], device: 0);
        using DeviceTensor scales = DeviceTensor.Empty(DType.Float32, [tokens, 1], device: 0);
        data.FillBytes(0xCD);
        scales.FillBytes(0xCD);
        Int8CastRuntime.Launch(deviceX, data, scales);

        Assert.Equal(expected.Data.ToArray<sbyte>(), data.ToArray<sbyte>());
        Assert.Equal(expected.Scales.ToArray<float>().Select(BitConverter.SingleToInt32Bits), scales.ToArray<float>().Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void StridedRowsMatchToo()
    {
        gpu.Require();
        const int tokens = 45, hidden = 1024, stride = 1536;
        var random = new Random(7);
        BFloat16[] wide = Enumerable.Range(0, tokens * stride).Select(_ => BFloat16.FromFloat((float)((random.NextDouble() * 8) - 4))).ToArray();
        using DeviceTensor deviceWide = DeviceTensor.FromArray<BFloat16>(wide, [tokens, stride], device: 0);
        using DeviceTensor view = DeviceTensor.FromPointer(deviceWide.Pointer, [tokens, hidden], DType.BFloat16, 0, [stride, 1]);
        using Int8Tensor actual = Int8CastRuntime.Cast(view);
        using DeviceTensor hostRows = view.To(DeviceTensor.HostDevice);
        using Int8Tensor expected = Int8Cast.PerTokenCast(hostRows);
        Assert.Equal(expected.Data.ToArray<sbyte>(), actual.Data.ToArray<sbyte>());
        Assert.Equal(expected.Scales.ToArray<float>(), actual.Scales.ToArray<float>());
    }
}
