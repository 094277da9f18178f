using System.Runtime.InteropServices;

namespace DeepEP.Tensors;

/// <summary>
/// An FP8 E4M3 "fn" value (PyTorch's <c>float8_e4m3fn</c>): bias 7, no infinities, finite max 448,
/// NaN = S.1111.111. <see cref="FromFloat"/> rounds to nearest even and saturates to ±448, matching
/// CUDA's <c>__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 1)]
public readonly record struct Float8E4M3(byte Bits)
{
    /// <summary>The largest finite value.</summary>
    public const float MaxValue = 448f;

    private const byte MaxFiniteCode = 0x7E;
    private const byte NaNCode = 0x7F;

    /// <summary>Rounds to nearest even, saturating finite overflow and infinities to ±448.</summary>
    public static Float8E4M3 FromFloat(float value)
    {
        if (float.IsNaN(value))
        {
            return new Float8E4M3(NaNCode);
        }
        byte sign = value < 0 || (value == 0 && float.IsNegative(value)) ? (byte)0x80 : (byte)0;
        double magnitude = Math.Abs((double)value);
        byte code;
        if (magnitude >= MaxValue)
        {
            code = MaxFiniteCode;
        }
        else if (magnitude < 0.015625)
        {
            // Subnormals step by 2^-9; a result of 8 steps is exactly the smallest normal (code 0x08).
            code = (byte)Math.Round(Math.ScaleB(magnitude, 9), MidpointRounding.ToEven);
        }
        else
        {
            int exponent = Math.ILogB(magnitude);
            double mantissa = Math.Round(Math.ScaleB(magnitude, 3 - exponent) - 8, MidpointRounding.ToEven);
            int raw = ((exponent + 7) << 3) + (int)mantissa; // a mantissa carry of 8 bumps the exponent
            code = (byte)Math.Min(raw, MaxFiniteCode);
        }
        return new Float8E4M3((byte)(sign | code));
    }

    /// <summary>The exact float value (NaN for the NaN patterns).</summary>
    public float ToFloat()
    {
        int exponentField = (Bits >> 3) & 0xF;
        int mantissa = Bits & 0x7;
        if (exponentField == 0xF && mantissa == 0x7)
        {
            return float.NaN;
        }
        double magnitude = exponentField == 0
            ? Math.ScaleB(mantissa, -9)
            : Math.ScaleB(8 + mantissa, exponentField - 10);
        return (float)((Bits & 0x80) != 0 ? -magnitude : magnitude);
    }

    /// <summary>Converts with round-to-nearest-even and saturation.</summary>
    public static explicit operator Float8E4M3(float value) => FromFloat(value);

    /// <summary>Exact widening.</summary>
    public static implicit operator float(Float8E4M3 value) => value.ToFloat();

    /// <inheritdoc />
    public override string ToString() => ToFloat().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
