using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary><see cref="MoeExpertWeights"/>: every layout rule of docs/fused-moe.md is an <see cref="ArgumentException"/> naming the tensor.</summary>
public sealed class MoeExpertWeightsTests
{
    private const int E = 2;
    private const int H = 256;
    private const int I = 128;

    [Fact]
    public void ValidLayoutsReportTheirSizes()
    {
        using MoeExpertWeights bf16 = MoeExpertWeights.Bf16(Zeros(DType.BFloat16, E, 2 * I, H), Zeros(DType.BFloat16, E, H, I));
        using MoeExpertWeights int8 = MoeExpertWeights.Int8(Zeros(DType.Int8, E, 2 * I, H), Zeros(DType.Float32, E, 2 * I), Zeros(DType.Int8, E, H, I), Zeros(DType.Float32, E, H));
        using MoeExpertWeights fp8 = MoeExpertWeights.Fp8(Zeros(DType.Float8E4M3, E, 2 * I, H), Zeros(DType.Float32, E, 2 * I / 128, H / 128),
            Zeros(DType.Float8E4M3, E, H, I), Zeros(DType.Float32, E, H / 128, I / 128));
        foreach ((MoeExpertWeights w, MoeQuantMode mode) in (ValueTuple<MoeExpertWeights, MoeQuantMode>[])[(bf16, MoeQuantMode.None), (int8, MoeQuantMode.Int8), (fp8, MoeQuantMode.Fp8)])
        {
            Assert.Equal((mode, E, H, I, DeviceTensor.HostDevice), (w.QuantMode, w.NumLocalExperts, w.Hidden, w.IntermediateSize, w.Device));
        }
        Assert.Null(bf16.W1Scales);
    }

    [Fact]
    public void W1MustBeThreeDimensional() =>
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, 2 * I, H), Zeros(DType.BFloat16, E, H, I)));

    [Fact]
    public void W1MustHaveTheModesDtype() =>
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.Int8, E, 2 * I, H), Zeros(DType.BFloat16, E, H, I)));

    [Fact]
    public void IntermediateSizeMustBeAMultipleOf128()
    {
        ArgumentException e = HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, E, 192, H), Zeros(DType.BFloat16, E, H, 96)));
        Assert.Contains("gate rows 0..I-1", e.Message);
    }

    [Fact]
    public void HiddenSizeMustBeAMultipleOf128() =>
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, E, 2 * I, 192), Zeros(DType.BFloat16, E, 192, I)));

    [Fact]
    public void AtLeastOneExpert() =>
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, 0, 2 * I, H), Zeros(DType.BFloat16, 0, H, I)));

    [Fact]
    public void W2MustBeTheTransposedShape() =>
        HostBuffers.Throws<ArgumentException>("w2", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, E, 2 * I, H), Zeros(DType.BFloat16, E, I, H)));

    [Fact]
    public void WeightsMustBeContiguous() =>
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Bf16(Zeros(DType.BFloat16, E, H, 2 * I).Transpose(1, 2), Zeros(DType.BFloat16, E, H, I)));

    [Fact]
    public void Int8ScalesArePerOutputChannel()
    {
        HostBuffers.Throws<ArgumentException>("w1Scales", () => MoeExpertWeights.Int8(
            Zeros(DType.Int8, E, 2 * I, H), Zeros(DType.Float32, E, I), Zeros(DType.Int8, E, H, I), Zeros(DType.Float32, E, H)));
        HostBuffers.Throws<ArgumentNullException>("w2Scales", () => MoeExpertWeights.Int8(
            Zeros(DType.Int8, E, 2 * I, H), Zeros(DType.Float32, E, 2 * I), Zeros(DType.Int8, E, H, I), null!));
    }

    [Fact]
    public void Fp8ScalesArePer128By128Block()
    {
        // Per-channel scales are the Int8 layout, not the block layout.
        HostBuffers.Throws<ArgumentException>("w1Scales", () => MoeExpertWeights.Fp8(
            Zeros(DType.Float8E4M3, E, 2 * I, H), Zeros(DType.Float32, E, 2 * I), Zeros(DType.Float8E4M3, E, H, I), Zeros(DType.Float32, E, H / 128, I / 128)));
        HostBuffers.Throws<ArgumentException>("w2Scales", () => MoeExpertWeights.Fp8(
            Zeros(DType.Float8E4M3, E, 2 * I, H), Zeros(DType.Float32, E, 2 * I / 128, H / 128), Zeros(DType.Float8E4M3, E, H, I), Zeros(DType.Float16, E, H / 128, I / 128)));
    }

    [Fact]
    public void QuantizeTakesBf16AndAKnownMode()
    {
        HostBuffers.Throws<ArgumentException>("w1", () => MoeExpertWeights.Quantize(Zeros(DType.Float32, E, 2 * I, H), Zeros(DType.BFloat16, E, H, I), MoeQuantMode.Int8));
        HostBuffers.Throws<ArgumentOutOfRangeException>("mode", () => MoeExpertWeights.Quantize(Zeros(DType.BFloat16, E, 2 * I, H), Zeros(DType.BFloat16, E, H, I), (MoeQuantMode)9));
    }

    [Fact]
    public void QuantizeOfHostWeightsTakesNoStream()
    {
        // A wrapped handle: nothing reaches the driver before the check refuses it.
        CudaStream stream = CudaStream.FromHandle(0x1000, device: 0);
        ArgumentException e = HostBuffers.Throws<ArgumentException>("stream",
            () => MoeExpertWeights.Quantize(Zeros(DType.BFloat16, E, 2 * I, H), Zeros(DType.BFloat16, E, H, I), MoeQuantMode.Int8, stream));
        Assert.Contains("Pass stream: null", e.Message);
    }

    private static DeviceTensor Zeros(DType dtype, params long[] shape) => DeviceTensor.Zeros(dtype, shape);
}
