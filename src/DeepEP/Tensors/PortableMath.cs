namespace DeepEP.Tensors;

/// <summary>
/// log2 and exp2 in float32 built only from operations IEEE 754 rounds exactly (add, multiply, divide, fused
/// multiply-add, scaling by a power of two), in a fixed order, so the CUDA twin (<c>common/portable_math.cuh</c>,
/// written with <c>__fmaf_rn</c>, <c>__fmul_rn</c>, <c>__fadd_rn</c>, <c>__fdiv_rn</c> and <c>scalbnf</c>) gives the same bits. The library
/// functions (and the GPU's <c>lg2.approx</c> / <c>ex2.approx</c>) differ by an ulp here and there, which would make a
/// host reference of LogFMT-10 disagree with the kernels on a code boundary. Measured over every positive float: log2
/// errs by at most 2.48e-7 × max(1, |log2 x|) (worst just below 0.5, where log2 m of a mantissa near 2 cancels against
/// the exponent); exp2 by at most 7.5e-8 relative over [−126, 127.9).
/// </summary>
internal static class PortableMath
{
    private const float TwoOverLn2 = 2.88539008f;
    private const float Ln2 = 0.693147182f;

    // atanh(t) / t = 1 + t^2/3 + t^4/5 + ... + t^14/15, highest power first.
    private static readonly float[] AtanhSeries = [1f / 15f, 1f / 13f, 1f / 11f, 1f / 9f, 1f / 7f, 1f / 5f, 1f / 3f, 1f];

    // e^y = 1 + y + y^2/2 + ... + y^8/8!, highest power first.
    private static readonly float[] ExpSeries = [1f / 40320f, 1f / 5040f, 1f / 720f, 1f / 120f, 1f / 24f, 1f / 6f, 0.5f, 1f, 1f];

    /// <summary>log2 of <paramref name="x"/>: −∞ for 0, NaN for a negative or NaN input, +∞ for +∞.</summary>
    public static float Log2(float x)
    {
        if (float.IsNaN(x) || x < 0)
        {
            return float.NaN;
        }
        if (x == 0)
        {
            return float.NegativeInfinity;
        }
        if (float.IsPositiveInfinity(x))
        {
            return float.PositiveInfinity;
        }
        int exponentBias = 0;
        if (x < 1.17549435e-38f) // the smallest normal float
        {
            x *= 8388608f; // 2^23: a subnormal becomes normal, exactly
            exponentBias = -23;
        }
        uint bits = BitConverter.SingleToUInt32Bits(x);
        int exponent = (int)(bits >> 23) - 127 + exponentBias;
        float m = BitConverter.UInt32BitsToSingle((bits & 0x007FFFFFu) | 0x3F800000u); // [1, 2)
        // log2(m) = (2 / ln 2) * atanh(t), t = (m - 1) / (m + 1) in [0, 1/3).
        float t = (m - 1f) / (m + 1f);
        return MathF.FusedMultiplyAdd(t * Horner(AtanhSeries, t * t), TwoOverLn2, exponent);
    }

    /// <summary>2 to the power <paramref name="x"/>: 0 far below the float range, +∞ far above, NaN for NaN.</summary>
    public static float Exp2(float x)
    {
        if (float.IsNaN(x))
        {
            return float.NaN;
        }
        if (x >= 128f)
        {
            return float.PositiveInfinity;
        }
        if (x < -160f)
        {
            return 0f;
        }
        // x = n + r, r in [-1/2, 1/2]: 2^r = e^(r ln 2), then scaled by 2^n.
        float n = MathF.Floor(x + 0.5f);
        return MathF.ScaleB(Horner(ExpSeries, (x - n) * Ln2), (int)n);
    }

    // c[0] x^(n-1) + ... + c[n-1], one FMA per coefficient.
    private static float Horner(ReadOnlySpan<float> coefficients, float x)
    {
        float sum = coefficients[0];
        foreach (float c in coefficients[1..])
        {
            sum = MathF.FusedMultiplyAdd(sum, x, c);
        }
        return sum;
    }
}
