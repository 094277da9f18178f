namespace DeepEP.Tensors;

/// <summary>
/// Host-side symmetric INT8 casts with one Float32 scale per row: per token for activations (the reference of INT8
/// normal-mode dispatch, DeepEP-Ascend's dynamic INT8 quantisation) and per output channel for W8A8 weights.
/// </summary>
/// <remarks>
/// For each row: <c>amax = max(max_k |x[k]|, AmaxFloor)</c> in fp32, <c>q[k] = clamp(rne(x[k] · (127 / amax)), -127, 127)</c>
/// (round half to even, as CUDA's <c>__float2int_rn</c>), <c>scale = amax / 127</c>. The code -128 is never produced,
/// so the range is symmetric; dequantisation is <c>q · scale</c>, within <c>scale / 2</c> of the input.
/// </remarks>
public static class Int8Cast
{
    /// <summary>The largest code magnitude.</summary>
    public const int MaxValue = 127;

    /// <summary>The amax floor that keeps all-zero rows finite (their codes are 0, their scale <c>AmaxFloor / 127</c>); FP8's floor.</summary>
    public const float AmaxFloor = Fp8Cast.AmaxFloor;

    /// <summary>Quantises a host BF16 <c>[T, H]</c> tensor with one scale per token, the payload of INT8 dispatch.</summary>
    /// <param name="x">Contiguous host BF16 <c>[T, H]</c>.</param>
    /// <returns><see cref="Int8Tensor.Data"/> <c>[T, H]</c> <see cref="DType.Int8"/> and <see cref="Int8Tensor.Scales"/> <c>[T, 1]</c> Float32. The caller owns both.</returns>
    public static Int8Tensor PerTokenCast(DeviceTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 [T, H] tensor, not {x.Describe()}.", nameof(x));
        }
        return Cast(x, [x.Size(0), 1]);
    }

    /// <summary>Casts every row of the last dimension (for weights <c>[E, N, K]</c>: one scale per output channel n).</summary>
    /// <param name="x">Contiguous host BF16 <c>[..., K]</c>, rank ≥ 1.</param>
    /// <returns><see cref="Int8Tensor.Data"/> Int8 of the same shape and <see cref="Int8Tensor.Scales"/> Float32 of the shape without the last dimension.</returns>
    public static Int8Tensor PerRowCast(DeviceTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 [..., K] tensor, not {x.Describe()}.", nameof(x));
        }
        return Cast(x, x.Shape[..^1]);
    }

    /// <summary>Casts one row: <paramref name="q"/>[k] = rne(row[k] · 127 / amax); returns the row's scale amax / 127.</summary>
    /// <param name="row">The BF16 values (any length).</param>
    /// <param name="q">Receives the Int8 values; as long as <paramref name="row"/>.</param>
    public static float CastRow(ReadOnlySpan<BFloat16> row, Span<sbyte> q)
    {
        if (q.Length != row.Length)
        {
            throw new ArgumentException($"q holds {q.Length} values but the row has {row.Length}.", nameof(q));
        }
        float amax = AmaxFloor;
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

    /// <summary>Dequantises one code: <c>q · scale</c> in fp32.</summary>
    /// <param name="code">An INT8 code.</param>
    /// <param name="scale">Its row's scale.</param>
    public static float Dequantize(sbyte code, float scale) => code * scale;

    private static Int8Tensor Cast(DeviceTensor x, ReadOnlySpan<long> scalesShape)
    {
        if (!x.IsHost || x.DType != DType.BFloat16 || !x.IsContiguous)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 tensor, not {x.Describe()}.", nameof(x));
        }
        int columns = checked((int)x.Size(-1));
        var data = DeviceTensor.Empty(DType.Int8, x.Shape);
        var scales = DeviceTensor.Empty(DType.Float32, scalesShape);
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
