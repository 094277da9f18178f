using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu;

[Collection(GpuCollection.Name)]
public sealed class Fp8CastKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, int, bool, bool> Cases => new()
    {
        { 1, 128, false, false },
        { 37, 2048, false, false },
        { 129, 7168, false, false },
        { 64, 8192, false, false },
        { 33, 512, true, false },
        { 77, 7168, true, false },
        { 50, 512, true, true },
        { 91, 4096, true, true },
        { 16, 8192, true, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void KernelMatchesTheHostReferenceBitForBit(int tokens, int hidden, bool roundScale, bool useUe8m0)
    {
        gpu.Require();
        var random = new Random(HashCode.Combine(tokens, hidden, roundScale, useUe8m0));
        BFloat16[] x = RandomRows(random, tokens, hidden);
        using DeviceTensor hostX = DeviceTensor.FromArray<BFloat16>(x, [tokens, hidden]);
        using Fp8Tensor expected = Fp8Cast.PerTokenCast(hostX, roundScale, useUe8m0);

        using DeviceTensor deviceX = hostX.To(0);
        using DeviceTensor data = DeviceTensor.Empty(DType.Float8E4M3, [tokens, hidden], device: 0);
        using DeviceTensor scales = DeviceTensor.Empty(expected.Scales.DType, expected.Scales.Shape, device: 0);
        data.FillBytes(0xCD);
        scales.FillBytes(0xCD);
        Fp8CastRuntime.Launch(deviceX, data, scales, roundScale, useUe8m0);

        Assert.Equal(expected.Data.ToArray<byte>(), data.ToArray<byte>());
        if (useUe8m0)
        {
            Assert.Equal(expected.Scales.ToArray<int>(), scales.ToArray<int>());
        }
        else
        {
            Assert.Equal(expected.Scales.ToArray<float>().Select(BitConverter.SingleToInt32Bits), scales.ToArray<float>().Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void StridedRowsAndTheAllocatingOverloadMatchToo()
    {
        gpu.Require();
        const int tokens = 45, hidden = 1024, stride = 1536;
        var random = new Random(99);
        BFloat16[] wide = RandomRows(random, tokens, stride);
        using DeviceTensor deviceWide = DeviceTensor.FromArray<BFloat16>(wide, [tokens, stride], device: 0);
        using DeviceTensor view = DeviceTensor.FromPointer(deviceWide.Pointer, [tokens, hidden], DType.BFloat16, 0, [stride, 1]);
        using Fp8Tensor actual = Fp8CastRuntime.Cast(view);

        using DeviceTensor hostView = DeviceTensor.FromArray<BFloat16>(view.ToArray<BFloat16>(), [tokens, hidden]);
        using Fp8Tensor expected = Fp8Cast.PerTokenCast(hostView);
        Assert.Equal(expected.Data.ToArray<byte>(), actual.Data.ToArray<byte>());
        Assert.Equal(expected.Scales.ToArray<float>(), actual.Scales.ToArray<float>());
    }

    /// <summary>Rows of mixed magnitudes: normal data, huge and tiny rows, all-zero groups, and values that saturate.</summary>
    private static BFloat16[] RandomRows(Random random, int tokens, int hidden)
    {
        var x = new BFloat16[tokens * hidden];
        for (int t = 0; t < tokens; t++)
        {
            float magnitude = (t % 5) switch
            {
                0 => 1f,
                1 => 1e4f,
                2 => 1e-6f,
                3 => 0f,
                _ => MathF.Pow(2, random.Next(-20, 20)),
            };
            for (int h = 0; h < hidden; h++)
            {
                float gaussian = MathF.Sqrt(-2f * MathF.Log(1f - random.NextSingle())) * MathF.Cos(2f * MathF.PI * random.NextSingle());
                x[(t * hidden) + h] = BFloat16.FromFloat(gaussian * magnitude);
            }
        }
        return x;
    }
}
