namespace DeepEP.Tensors;

/// <summary>Element types a <see cref="DeviceTensor"/> can hold.</summary>
public enum DType
{
    /// <summary>bfloat16: 1 sign, 8 exponent, 7 mantissa bits.</summary>
    BFloat16,
    /// <summary>IEEE half precision.</summary>
    Float16,
    /// <summary>IEEE single precision.</summary>
    Float32,
    /// <summary>FP8 E4M3 "fn" (finite, max 448, one NaN pattern per sign).</summary>
    Float8E4M3,
    /// <summary>32-bit signed integer.</summary>
    Int32,
    /// <summary>64-bit signed integer (the default top-k index type).</summary>
    Int64,
    /// <summary>8-bit unsigned integer.</summary>
    UInt8,
    /// <summary>One byte per element, 0 or 1.</summary>
    Bool,
    /// <summary>8-bit signed integer, [-127, 127] from <see cref="Int8Cast"/> (INT8 dispatch payloads, W8A8 weights and activations).</summary>
    Int8,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.BFloat16 or DType.Float16 => 2,
        DType.Float32 or DType.Int32 => 4,
        DType.Int64 => 8,
        DType.Float8E4M3 or DType.UInt8 or DType.Int8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>The CLR type whose size and layout match one element, for typed host access.</summary>
    public static Type ClrType(this DType dtype) => dtype switch
    {
        DType.BFloat16 => typeof(BFloat16),
        DType.Float16 => typeof(Half),
        DType.Float32 => typeof(float),
        DType.Float8E4M3 => typeof(Float8E4M3),
        DType.Int32 => typeof(int),
        DType.Int64 => typeof(long),
        DType.UInt8 => typeof(byte),
        DType.Int8 => typeof(sbyte),
        DType.Bool => typeof(bool),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };
}
