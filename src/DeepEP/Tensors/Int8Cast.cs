namespace DeepEP.Tensors;

/// <summary>
/// Host-side per-token symmetric INT8 quantisation (DeepEP-Ascend's dynamic INT8 dispatch quantisation): the
/// reference for INT8 normal-mode dispatch, whose payload is the <c>(data, scales)</c> pair this returns.
/// </summary>
/// <remarks>
/// For each token: <c>amax = max(max_h |x[h]|, AmaxFloor)</c> in fp32, <c>q[h] = clamp(rne(x[h] * (127 / amax)), -127, 127)</c>
/// (round half to even, as CUDA's <c>__float2int_rn</c>), <c>scale = amax / 127</c>. The code -128 is never produced,
/// so the range is symmetric; dequantisation is <c>q * scale</c>, within <c>scale / 2</c> of the input.
/// </remarks>
public static class Int8Cast
{
    /// <summary>The largest code magnitude.</summary>
    public const float Int8Max = 127f;

    /// <summary>The amax floor that keeps all-zero tokens finite (their codes are 0, their scale <c>AmaxFloor / 127</c>).</summary>
    public const float AmaxFloor = 1e-4f;

    /// <summary>Quantises a host BF16 <c>[T, H]</c> tensor to INT8 with one Float32 scale per token.</summary>
    /// <param name="x">Contiguous host BF16 <c>[T, H]</c>.</param>
    /// <returns><c>Data</c>: <c>[T, H]</c> <see cref="DType.Int8"/>; <c>Scales</c>: <c>[T, 1]</c> Float32 dequantisation factors. The caller owns both.</returns>
    public static (DeviceTensor Data, DeviceTensor Scales) PerTokenCast(DeviceTensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.IsHost || x.DType != DType.BFloat16 || x.Rank != 2 || !x.IsContiguous)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 [T, H] tensor, not {x.Describe()}.", nameof(x));
        }
        long tokens = x.Size(0);
        int hidden = checked((int)x.Size(1));
        var data = DeviceTensor.Empty(DType.Int8, [tokens, hidden]);
        var scales = DeviceTensor.Empty(DType.Float32, [tokens, 1]);
        ReadOnlySpan<BFloat16> source = x.AsSpan<BFloat16>();
        Span<sbyte> codes = data.AsSpan<sbyte>();
        Span<float> scaleSpan = scales.AsSpan<float>();
        for (int t = 0; t < tokens; t++)
        {
            scaleSpan[t] = CastRow(source.Slice(t * hidden, hidden), codes.Slice(t * hidden, hidden));
        }
        return (data, scales);
    }

    /// <summary>Dequantises one code: <c>q * scale</c> in fp32.</summary>
    /// <param name="code">An INT8 code from <see cref="PerTokenCast"/>.</param>
    /// <param name="scale">Its token's scale.</param>
    public static float Dequantize(sbyte code, float scale) => code * scale;

    private static float CastRow(ReadOnlySpan<BFloat16> row, Span<sbyte> codes)
    {
        float amax = AmaxFloor;
        foreach (BFloat16 v in row)
        {
            amax = MathF.Max(amax, MathF.Abs((float)v));
        }
        float inverse = Int8Max / amax;
        for (int h = 0; h < row.Length; h++)
        {
            codes[h] = (sbyte)Math.Clamp(MathF.Round((float)row[h] * inverse, MidpointRounding.ToEven), -Int8Max, Int8Max);
        }
        return amax / Int8Max;
    }
}
