using System.Runtime.InteropServices;

namespace DeepEP.Tensors;

/// <summary>A bfloat16 value stored as its 16 raw bits; conversions round to nearest even, as CUDA's do.</summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly record struct BFloat16(ushort Bits)
{
    /// <summary>Rounds <paramref name="value"/> to the nearest bfloat16 (ties to even); NaN stays a quiet NaN.</summary>
    public static BFloat16 FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return new BFloat16((ushort)((bits >> 16) | 0x0040));
        }
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return new BFloat16((ushort)((bits + roundingBias) >> 16));
    }

    /// <summary>The exact float value.</summary>
    public float ToFloat() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    /// <summary>Converts with round-to-nearest-even.</summary>
    public static explicit operator BFloat16(float value) => FromFloat(value);

    /// <summary>Exact widening.</summary>
    public static implicit operator float(BFloat16 value) => value.ToFloat();

    /// <inheritdoc />
    public override string ToString() => ToFloat().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
