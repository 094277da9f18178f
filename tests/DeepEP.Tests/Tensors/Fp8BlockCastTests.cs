using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary><see cref="Fp8Cast.BlockCast"/>: E4M3 with one scale, amax / 448, per 128 × 128 block of the last two dimensions.</summary>
public sealed class Fp8BlockCastTests
{
    [Fact]
    public void EachBlockHasItsOwnScaleAndRoundTripsWithinE4M3Precision()
    {
        const int Experts = 2, Rows = 256, Columns = 384;
        var random = new Random(5);
        var values = new BFloat16[Experts * Rows * Columns];
        for (int i = 0; i < values.Length; i++)
        {
            // Blocks of very different magnitude: a shared scale would flush the small ones.
            int block = (i / Columns % Rows / 128) + (i % Columns / 128);
            values[i] = BFloat16.FromFloat((float)((random.NextDouble() - 0.5) * Math.Pow(100, block - 1)));
        }
        using var w = DeviceTensor.FromArray<BFloat16>(values, [Experts, Rows, Columns]);
        using Fp8Tensor q = Fp8Cast.BlockCast(w);
        Assert.Equal([Experts, Rows, Columns], q.Data.Shape.ToArray());
        Assert.Equal([Experts, Rows / 128L, Columns / 128L], q.Scales.Shape.ToArray());
        Float8E4M3[] data = q.Data.ToArray<Float8E4M3>();
        // A sample of every block (a prime stride); the amax scan is the slow part.
        for (int i = 0; i < values.Length; i += 97)
        {
            int e = i / (Rows * Columns), r = i / Columns % Rows, c = i % Columns;
            float scale = q.Scales.At<float>(e, r / 128, c / 128);
            float amax = Enumerable.Range(r / 128 * 128, 128)
                .SelectMany(row => values.Skip((((e * Rows) + row) * Columns) + (c / 128 * 128)).Take(128))
                .Max(v => MathF.Abs(v.ToFloat()));
            Assert.Equal(amax / 448, scale, 1e-6 * scale);
            float original = values[i].ToFloat();
            // E4M3: 3 mantissa bits (relative step 2^-3, error ≤ 2^-4), subnormal step 2^-9 of the scaled value.
            Assert.InRange(Math.Abs((data[i].ToFloat() * scale) - original), 0, Math.Max(Math.Abs(original) / 16, scale / 1024) * 1.001);
        }
    }

    [Fact]
    public void RejectsShapesThatAreNotWholeBlocks()
    {
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => Fp8Cast.BlockCast(DeviceTensor.Zeros(DType.BFloat16, [128, 192]))).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => Fp8Cast.BlockCast(DeviceTensor.Zeros(DType.BFloat16, [128]))).ParamName);
    }
}
