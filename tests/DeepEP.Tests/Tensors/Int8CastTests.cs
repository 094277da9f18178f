using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary><see cref="Int8Cast"/>: symmetric per-row Int8 with scale amax / 127, round half to even.</summary>
public sealed class Int8CastTests
{
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
