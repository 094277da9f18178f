using CsCheck;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;

namespace DeepEP.Tests.Tensors;

/// <summary>Per-token FP8 casts (spec §5.3 fused cast, §6.1 cast back).</summary>
public sealed class Fp8CastTests
{
    private const int Hidden = 512;

    private static readonly Gen<(int Seed, int Tokens, bool RoundScale)> Inputs = Gen.Select(Gen.Int, Gen.Int[0, 6], Gen.Bool);

    [Fact]
    public void RoundedScalesAreTheSmallestPowerOfTwoCoveringAmax()
    {
        Inputs.Sample((seed, tokens, _) =>
        {
            DeviceTensor x = RandomRows(seed, tokens);
            Fp8Tensor fp8 = Fp8Cast.PerTokenCast(x, roundScale: true);
            for (int t = 0; t < tokens; t++)
            {
                for (int g = 0; g < Hidden / 128; g++)
                {
                    float amax = Amax(x, t, g);
                    float scaleInv = fp8.Scales.At<float>(t, g);
                    Assert.Equal(0u, BitConverter.SingleToUInt32Bits(scaleInv) & 0x7FFFFF);
                    float needed = amax * (1f / 448f);
                    Assert.True(scaleInv >= needed && scaleInv / 2 < needed, $"token {t}, group {g}: scale {scaleInv} for amax {amax}");
                }
            }
        }, iter: 50);
    }

    [Fact]
    public void Ue8m0ScalesPackTheExponentBytesLittleEndian()
    {
        Inputs.Sample((seed, tokens, _) =>
        {
            DeviceTensor x = RandomRows(seed, tokens);
            Fp8Tensor rounded = Fp8Cast.PerTokenCast(x, roundScale: true);
            Fp8Tensor packed = Fp8Cast.PerTokenCast(x, roundScale: true, useUe8m0: true);
            Assert.Equal(DType.Int32, packed.Scales.DType);
            Assert.Equal([tokens, Hidden / 512], packed.Scales.Shape.ToArray());
            Assert.Equal(rounded.Data.ToArray<byte>(), packed.Data.ToArray<byte>());
            for (int t = 0; t < tokens; t++)
            {
                for (int g = 0; g < Hidden / 128; g++)
                {
                    int exponentByte = (packed.Scales.At<int>(t, g / 4) >> (8 * (g % 4))) & 0xFF;
                    Assert.Equal((int)(BitConverter.SingleToUInt32Bits(rounded.Scales.At<float>(t, g)) >> 23), exponentByte);
                    Assert.Equal(rounded.Scales.At<float>(t, g), Fp8Cast.Ue8m0ToFloat((byte)exponentByte));
                }
            }
        }, iter: 50);
    }

    [Fact]
    public void CastBackStaysWithinFp8Precision()
    {
        Inputs.Sample((seed, tokens, roundScale) =>
        {
            DeviceTensor x = RandomRows(seed, tokens);
            Fp8Tensor fp8 = Fp8Cast.PerTokenCast(x, roundScale);
            BFloat16[,] back = HostTensors.To2D<BFloat16>(Fp8Cast.PerTokenCastBack(fp8.Data, fp8.Scales));
            BFloat16[,] original = HostTensors.To2D<BFloat16>(x);
            for (int t = 0; t < tokens; t++)
            {
                for (int h = 0; h < Hidden; h++)
                {
                    // 3 mantissa bits (2^-4 relative), a subnormal step of 2^-9 scaled back, then one BF16 rounding.
                    double value = original[t, h].ToFloat();
                    double bound = (Math.Abs(value) * (0.0625 + 0.0079)) + (Math.ScaleB(1.0, -10) * fp8.Scales.At<float>(t, h / 128) * 1.01);
                    Assert.True(Math.Abs(back[t, h].ToFloat() - value) <= bound, $"token {t}, channel {h}: {back[t, h]} vs {value}");
                }
            }
        }, iter: 50);
    }

    [Fact]
    public void ColumnMajorScalesCastBackLikeRowMajorOnes()
    {
        Inputs.Sample((seed, tokens, roundScale) =>
        {
            Fp8Tensor fp8 = Fp8Cast.PerTokenCast(RandomRows(seed, tokens), roundScale, useUe8m0: roundScale);
            Assert.Equal(
                Fp8Cast.PerTokenCastBack(fp8.Data, fp8.Scales).ToArray<BFloat16>(),
                Fp8Cast.PerTokenCastBack(fp8.Data, HostTensors.ColumnMajor(fp8.Scales)).ToArray<BFloat16>());
        }, iter: 30);
    }

    // Rows whose 128-channel groups have magnitudes from 2^-30 to 2^30, with some all-zero groups (amax floor).
    private static DeviceTensor RandomRows(int seed, int tokens)
    {
        var random = new Random(seed);
        var values = new BFloat16[tokens * Hidden];
        for (int group = 0; group < values.Length / 128; group++)
        {
            int exponent = random.Next(8) == 0 ? int.MinValue : random.Next(-30, 31);
            for (int i = 0; i < 128; i++)
            {
                float value = exponent == int.MinValue ? 0f : MathF.ScaleB((float)((random.NextDouble() * 2) - 1), exponent);
                values[(group * 128) + i] = BFloat16.FromFloat(value);
            }
        }
        return DeviceTensor.FromArray<BFloat16>(values, [tokens, Hidden]);
    }

    private static float Amax(DeviceTensor x, int token, int group)
    {
        float amax = Fp8Cast.AmaxFloor;
        for (int h = group * 128; h < (group + 1) * 128; h++)
        {
            amax = MathF.Max(amax, MathF.Abs(x.At<BFloat16>(token, h).ToFloat()));
        }
        return amax;
    }
}
