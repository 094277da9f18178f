using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary>FP8 E4M3 "fn" conversions: nearest even with saturation to ±448, as CUDA's satfinite cast.</summary>
public sealed class Float8E4M3Tests
{
    [Fact]
    public void EveryCodeSurvivesARoundTrip()
    {
        for (int code = 0; code < 256; code++)
        {
            float value = new Float8E4M3((byte)code).ToFloat();
            if ((code & 0x7F) == 0x7F)
            {
                Assert.True(float.IsNaN(value), $"code {code:X2} is NaN");
                continue;
            }
            Assert.Equal((byte)code, Float8E4M3.FromFloat(value).Bits);
        }
    }

    [Theory]
    [InlineData(1f, 0x38)]
    [InlineData(448f, 0x7E)]
    [InlineData(0.015625f, 0x08)] // 2^-6, the smallest normal
    [InlineData(0.013671875f, 0x07)] // 7·2^-9, the largest subnormal
    [InlineData(0.001953125f, 0x01)] // 2^-9, the smallest subnormal
    [InlineData(-0f, 0x80)]
    [InlineData(-2.5f, 0xC2)]
    public void EncodesKnownValues(float value, int code)
    {
        Assert.Equal((byte)code, Float8E4M3.FromFloat(value).Bits);
        Assert.Equal(value, new Float8E4M3((byte)code).ToFloat());
    }

    [Theory]
    [InlineData(449f, 0x7E)]
    [InlineData(464f, 0x7E)] // the tie with the missing 480 still saturates
    [InlineData(1e10f, 0x7E)]
    [InlineData(float.PositiveInfinity, 0x7E)]
    [InlineData(-500f, 0xFE)]
    [InlineData(float.NegativeInfinity, 0xFE)]
    public void SaturatesToTheLargestFiniteValue(float value, int code)
    {
        Assert.Equal((byte)code, Float8E4M3.FromFloat(value).Bits);
    }

    [Theory]
    [InlineData(1.0625f, 0x38)] // between 1 and 1.125: to the even mantissa 0
    [InlineData(1.1875f, 0x3A)] // between 1.125 and 1.25: to the even mantissa 2
    [InlineData(0.0009765625f, 0x00)] // 2^-10, half the smallest subnormal: to zero
    [InlineData(0.0029296875f, 0x02)] // 1.5 subnormal steps: to 2
    [InlineData(0.0146484375f, 0x08)] // 7.5 subnormal steps: to the smallest normal
    [InlineData(-0.0009765625f, 0x80)] // negative ties to zero keep the sign
    public void RoundsTiesToEven(float value, int code)
    {
        Assert.Equal((byte)code, Float8E4M3.FromFloat(value).Bits);
    }

    [Fact]
    public void NaNEncodesAsTheNaNCode()
    {
        Assert.Equal(0x7F, Float8E4M3.FromFloat(float.NaN).Bits);
    }

    [Fact]
    public void MatchesTheNearestRepresentableValue()
    {
        Gen.Float[-600f, 600f].Sample(value => Assert.Equal(NearestCode(value), Float8E4M3.FromFloat(value).Bits), iter: 20_000);
        Gen.Float[-0.05f, 0.05f].Sample(value => Assert.Equal(NearestCode(value), Float8E4M3.FromFloat(value).Bits), iter: 20_000);
    }

    // Brute force over the finite codes; ties go to the even code, magnitudes past 448 saturate.
    private static byte NearestCode(float value)
    {
        double magnitude = Math.Abs((double)value);
        int best = 0;
        for (int code = 1; code <= 0x7E; code++)
        {
            double distance = Math.Abs(new Float8E4M3((byte)code).ToFloat() - magnitude);
            double bestDistance = Math.Abs(new Float8E4M3((byte)best).ToFloat() - magnitude);
            if (distance < bestDistance || (distance == bestDistance && code % 2 == 0))
            {
                best = code;
            }
        }
        if (magnitude >= Float8E4M3.MaxValue)
        {
            best = 0x7E;
        }
        return (byte)((float.IsNegative(value) ? 0x80 : 0) | best);
    }
}
