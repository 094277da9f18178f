using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary>Per-token symmetric INT8 quantisation (the INT8 dispatch reference).</summary>
public sealed class Int8CastTests
{
    [Fact]
    public void CodesAreTheRoundedScaledValuesAndDequantiseWithinHalfAStep()
    {
        Gen.Select(Gen.Int, Gen.Int[0, 6], Gen.Int[1, 64]).Sample((seed, tokens, hiddenOver8) =>
        {
            int hidden = hiddenOver8 * 8;
            var random = new Random(seed);
            var values = new BFloat16[tokens * hidden];
            for (int t = 0; t < tokens; t++)
            {
                // Magnitudes from 2^-20 to 2^20 per token; every fifth token all zero (the amax floor).
                int exponent = random.Next(5) == 0 ? int.MinValue : random.Next(-20, 21);
                for (int h = 0; h < hidden; h++)
                {
                    values[(t * hidden) + h] = BFloat16.FromFloat(exponent == int.MinValue ? 0f : MathF.ScaleB((float)((random.NextDouble() * 2) - 1), exponent));
                }
            }
            using var x = DeviceTensor.FromArray<BFloat16>(values, [tokens, hidden]);
            (DeviceTensor data, DeviceTensor scales) = Int8Cast.PerTokenCast(x);
            using (data)
            using (scales)
            {
                Assert.Equal([tokens, hidden], data.Shape.ToArray());
                Assert.Equal([tokens, 1], scales.Shape.ToArray());
                for (int t = 0; t < tokens; t++)
                {
                    float amax = Int8Cast.AmaxFloor;
                    for (int h = 0; h < hidden; h++)
                    {
                        amax = MathF.Max(amax, MathF.Abs((float)values[(t * hidden) + h]));
                    }
                    float scale = scales.At<float>(t, 0);
                    Assert.Equal(amax / 127f, scale);
                    for (int h = 0; h < hidden; h++)
                    {
                        float v = values[(t * hidden) + h];
                        sbyte code = data.At<sbyte>(t, h);
                        Assert.InRange(code, -127, 127);
                        Assert.Equal(MathF.Round(v * (127f / amax), MidpointRounding.ToEven), code);
                        Assert.True(MathF.Abs(Int8Cast.Dequantize(code, scale) - v) <= (scale * 0.5f * 1.0001f) + 1e-30f, $"token {t}, channel {h}: {v} -> {code} * {scale}");
                    }
                }
            }
        }, iter: 100);
    }

    [Fact]
    public void TheLargestMagnitudeMapsToPlusOrMinus127()
    {
        using var x = DeviceTensor.FromArray<BFloat16>([BFloat16.FromFloat(-3.5f), BFloat16.FromFloat(1.25f), BFloat16.FromFloat(0.5f), BFloat16.FromFloat(2f)], [2, 2]);
        (DeviceTensor data, DeviceTensor scales) = Int8Cast.PerTokenCast(x);
        Assert.Equal<sbyte>([-127, 45, 32, 127], data.ToArray<sbyte>());
        Assert.Equal([3.5f / 127f, 2f / 127f], scales.ToArray<float>());
    }

    [Fact]
    public void OnlyHostBf16MatricesAreAccepted()
    {
        using var x = DeviceTensor.Zeros(DType.Float32, [2, 8]);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Int8Cast.PerTokenCast(x)).ParamName);
    }
}
