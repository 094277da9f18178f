using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary><see cref="Int8Cast"/>: symmetric INT8 with one scale amax / 127 per token or row, round half to even.</summary>
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
            using Int8Tensor cast = Int8Cast.PerTokenCast(x);
            (DeviceTensor data, DeviceTensor scales) = (cast.Data, cast.Scales);
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
        using Int8Tensor cast = Int8Cast.PerTokenCast(x);
        Assert.Equal<sbyte>([-127, 45, 32, 127], cast.Data.ToArray<sbyte>());
        Assert.Equal([3.5f / 127f, 2f / 127f], cast.Scales.ToArray<float>());
    }

    [Fact]
    public void OnlyHostBf16MatricesAreAccepted()
    {
        using var x = DeviceTensor.Zeros(DType.Float32, [2, 8]);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Int8Cast.PerTokenCast(x)).ParamName);
    }

    [Fact]
    public void RowsRoundTripWithinHalfAStep()
    {
        var random = new Random(11);
        BFloat16[] values = [.. Enumerable.Range(0, 3 * 384).Select(_ => BFloat16.FromFloat((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-2, 3)))))];
        using var x = DeviceTensor.FromArray<BFloat16>(values, [3, 384]);
        using Int8Tensor q = Int8Cast.PerRowCast(x);
        Assert.Equal(DType.Int8, q.Data.DType);
        Assert.Equal([3L], q.Scales.Shape.ToArray());
        sbyte[] data = q.Data.ToArray<sbyte>();
        float[] scales = q.Scales.ToArray<float>();
        for (int r = 0; r < 3; r++)
        {
            float amax = values.Skip(r * 384).Take(384).Max(v => MathF.Abs(v.ToFloat()));
            Assert.Equal(amax / 127, scales[r]);
            Assert.Equal(127, data.Skip(r * 384).Take(384).Max(v => Math.Abs((int)v)));
            for (int c = 0; c < 384; c++)
            {
                Assert.InRange(Math.Abs((data[(r * 384) + c] * scales[r]) - values[(r * 384) + c].ToFloat()), 0, (scales[r] / 2) * 1.0001);
            }
        }
    }

    [Fact]
    public void HalfwayValuesRoundToEvenAndZeroRowsStayFinite()
    {
        // amax 127 gives scale 1, so 2.5 and -0.5 are exact halfway cases.
        BFloat16[] row = [BFloat16.FromFloat(127), BFloat16.FromFloat(2.5f), BFloat16.FromFloat(-0.5f), BFloat16.FromFloat(3.5f)];
        var q = new sbyte[4];
        Assert.Equal(1f, Int8Cast.CastRow(row, q));
        Assert.Equal([127, 2, 0, 4], q);
        float zeroScale = Int8Cast.CastRow(new BFloat16[4], q);
        Assert.Equal(Fp8Cast.AmaxFloor / 127, zeroScale);
        Assert.All(q, v => Assert.Equal(0, v));
    }

    [Fact]
    public void RejectsWhatItCannotCast()
    {
        Assert.Throws<ArgumentException>(() => Int8Cast.CastRow(new BFloat16[4], new sbyte[3]));
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Int8Cast.PerRowCast(DeviceTensor.Zeros(DType.Float32, [2, 128]))).ParamName);
    }
}
