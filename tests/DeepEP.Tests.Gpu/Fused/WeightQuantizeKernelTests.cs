using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// <see cref="MoeExpertWeights.Quantize"/> of weights on a GPU (the INT8 per-row cast kernel, the 128 × 128 block FP8
/// kernel) against the same call on the host, bit for bit: random BF16 weights of mixed magnitudes, one all-zero block
/// (the amax floor) and one value far above the rest of its block (they round to the smallest codes or zero). The
/// GPU's outputs are compared whole.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class WeightQuantizeKernelTests(GpuFixture gpu)
{
    private const int Experts = 3, Intermediate = 128, Hidden = 384;

    [Theory]
    [InlineData(MoeQuantMode.None)]
    [InlineData(MoeQuantMode.Int8)]
    [InlineData(MoeQuantMode.Fp8)]
    public void GpuCastsGiveTheHostsBits(MoeQuantMode mode)
    {
        gpu.Require();
        var random = new Random(HashCode.Combine(mode, 7));
        using DeviceTensor w1 = RandomWeights(random, [Experts, 2 * Intermediate, Hidden]);
        using DeviceTensor w2 = RandomWeights(random, [Experts, Hidden, Intermediate]);
        using MoeExpertWeights host = MoeExpertWeights.Quantize(w1, w2, mode);
        using DeviceTensor w1Gpu = w1.To(0), w2Gpu = w2.To(0);
        using MoeExpertWeights device = MoeExpertWeights.Quantize(w1Gpu, w2Gpu, mode);
        Assert.Equal(0, device.Device);
        Assert.Equal(mode, device.QuantMode);
        Assert.Equal(host.W1.ToArray<byte>(), device.W1.ToArray<byte>());
        Assert.Equal(host.W2.ToArray<byte>(), device.W2.ToArray<byte>());
        Assert.Equal(host.W1Scales?.ToArray<byte>(), device.W1Scales?.ToArray<byte>());
        Assert.Equal(host.W2Scales?.ToArray<byte>(), device.W2Scales?.ToArray<byte>());
    }

    // Each 128-row band gets its own magnitude (1e-3 to 1e3); expert 0's first block is zero; one value is 1e6.
    private static DeviceTensor RandomWeights(Random random, long[] shape)
    {
        int rows = (int)shape[1], columns = (int)shape[2];
        var values = new BFloat16[shape[0] * rows * columns];
        for (int i = 0; i < values.Length; i++)
        {
            int band = i / columns / 128;
            double magnitude = Math.Pow(10, (band % 7) - 3);
            values[i] = BFloat16.FromFloat((float)((random.NextDouble() - 0.5) * 2 * magnitude));
        }
        for (int r = 0; r < 128; r++)
        {
            Array.Clear(values, r * columns, 128);
        }
        values[(columns * 130) + 200] = BFloat16.FromFloat(1e6f);
        return DeviceTensor.FromArray<BFloat16>(values, shape);
    }
}
