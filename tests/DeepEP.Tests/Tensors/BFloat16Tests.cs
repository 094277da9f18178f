using CsCheck;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;

namespace DeepEP.Tests.Tensors;

/// <summary>BF16 conversions: round to nearest even like CUDA's <c>__float2bfloat16</c>, exact widening.</summary>
public sealed class BFloat16Tests
{
    [Theory]
    [InlineData(1f + (1f / 256), 0x3F80)] // tie between 1 and 1 + 2^-7: to the even 1
    [InlineData(1f + (3f / 256), 0x3F82)] // tie between 1 + 2^-7 and 1 + 2^-6: to the even 1 + 2^-6
    [InlineData(1f + (1f / 256) + (1f / 65536), 0x3F81)] // just above the tie: up
    [InlineData(-(1f + (1f / 256)), 0xBF80)]
    [InlineData(float.MaxValue, 0x7F80)] // rounds past the largest finite BF16 to infinity
    [InlineData(float.PositiveInfinity, 0x7F80)]
    [InlineData(float.NegativeInfinity, 0xFF80)]
    [InlineData(-0f, 0x8000)]
    [InlineData(1.401298464e-45f, 0x0000)] // the smallest float subnormal rounds to zero
    public void RoundsToNearestEven(float value, int expectedBits)
    {
        Assert.Equal((ushort)expectedBits, BFloat16.FromFloat(value).Bits);
    }

    [Theory]
    [InlineData(0x7FC00000u)]
    [InlineData(0x7F800001u)] // a signalling NaN must not turn into infinity
    [InlineData(0xFF800001u)]
    public void NaNStaysNaNWithItsSign(uint bits)
    {
        float nan = BitConverter.UInt32BitsToSingle(bits);
        BFloat16 converted = BFloat16.FromFloat(nan);
        Assert.True(float.IsNaN(converted.ToFloat()));
        Assert.Equal(bits >> 31, (uint)converted.Bits >> 15);
    }

    [Fact]
    public void EveryBf16PatternSurvivesARoundTrip()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            var value = new BFloat16((ushort)bits);
            float widened = value.ToFloat();
            Assert.Equal((uint)bits << 16, BitConverter.SingleToUInt32Bits(widened));
            if (!float.IsNaN(widened))
            {
                Assert.Equal(value, BFloat16.FromFloat(widened));
            }
        }
    }

    [Fact]
    public void MatchesIndependentRoundingOfArbitraryFloats()
    {
        Gen.UInt.Select(BitConverter.UInt32BitsToSingle).Where(f => !float.IsNaN(f)).Sample(
            value => Assert.Equal(RoutingOracle.BFloat16Bits(value), BFloat16.FromFloat(value).Bits), iter: 20_000);
    }
}
