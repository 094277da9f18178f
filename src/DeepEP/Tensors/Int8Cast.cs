namespace DeepEP.Tensors;

/// <summary>
/// Host-side symmetric Int8 casts with one scale per row (W8A8: per-output-channel weights, per-token activations):
/// scale = max(amax, <see cref="Fp8Cast.AmaxFloor"/>) / 127 and q = round-half-even(x · 127 / amax), clamped to ±127.
/// </summary>
public static class Int8Cast
{
    /// <summary>The largest magnitude a quantised value takes (the range is symmetric, -128 is never produced).</summary>
    public const int MaxValue = 127;

    /// <summary>Casts one row: <paramref name="q"/>[k] = round(row[k] · 127 / amax); returns the row's scale amax / 127.</summary>
    /// <param name="row">The BF16 values (any length).</param>
    /// <param name="q">Receives the Int8 values; as long as <paramref name="row"/>.</param>
    public static float CastRow(ReadOnlySpan<BFloat16> row, Span<sbyte> q)
    {
        if (q.Length != row.Length)
        {
            throw new ArgumentException($"q holds {q.Length} values but the row has {row.Length}.", nameof(q));
        }
        float amax = Fp8Cast.AmaxFloor;
        foreach (BFloat16 v in row)
        {
            amax = MathF.Max(amax, MathF.Abs(v.ToFloat()));
        }
        float multiplier = MaxValue / amax;
        for (int k = 0; k < row.Length; k++)
        {
            q[k] = (sbyte)Math.Clamp(MathF.Round(row[k].ToFloat() * multiplier, MidpointRounding.ToEven), -MaxValue, MaxValue);
        }
        return amax / MaxValue;
    }

    /// <summary>Casts every row of the last dimension (for weights <c>[E, N, K]</c>: one scale per output channel n).</summary>
    /// <param name="x">Contiguous host BF16 <c>[..., K]</c>, rank ≥ 1.</param>
    /// <returns><see cref="Int8Tensor.Data"/> Int8 of the same shape and <see cref="Int8Tensor.Scales"/> Float32 of the shape without the last dimension.</returns>
    public static Int8Tensor PerRowCast(DeviceTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.IsHost || x.DType != DType.BFloat16 || x.Rank < 1 || !x.IsContiguous)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 [..., K] tensor, not {x.Describe()}.", nameof(x));
        }
        int columns = checked((int)x.Size(-1));
        var data = DeviceTensor.Empty(DType.Int8, x.Shape);
        var scales = DeviceTensor.Empty(DType.Float32, x.Shape[..^1]);
        ReadOnlySpan<BFloat16> source = x.AsSpan<BFloat16>();
        Span<sbyte> target = data.AsSpan<sbyte>();
        Span<float> rowScales = scales.AsSpan<float>();
        for (int r = 0; r < rowScales.Length; r++)
        {
            rowScales[r] = CastRow(source.Slice(r * columns, columns), target.Slice(r * columns, columns));
        }
        return new Int8Tensor(data, scales);
    }
}
