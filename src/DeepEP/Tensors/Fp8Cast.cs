namespace DeepEP.Tensors;

/// <summary>
/// Host-side per-token, per-128-channel FP8 E4M3 casts with the exact arithmetic of the GPU kernels
/// (spec §5.3 "fused FP8 cast") and DeepEP's <c>per_token_cast_back</c> (spec §6.1).
/// </summary>
public static class Fp8Cast
{
    /// <summary>Channels that share one scale.</summary>
    public const int ChannelsPerScale = 128;

    /// <summary>Scale groups packed into one Int32 in UE8M0 mode.</summary>
    public const int ScalesPerUe8m0Word = 4;

    /// <summary>The amax floor that keeps all-zero groups finite.</summary>
    public const float AmaxFloor = 1e-4f;

    private const float InverseFp8Max = 1f / Float8E4M3.MaxValue;

    /// <summary>
    /// Casts a host BF16 <c>[T, H]</c> tensor to FP8 with per-token, per-128-channel scales.
    /// </summary>
    /// <param name="x">Contiguous host BF16 <c>[T, H]</c>, H a multiple of 128 (of 512 with UE8M0).</param>
    /// <param name="roundScale">Round each scale up to a power of two.</param>
    /// <param name="useUe8m0">Store scales as packed exponent bytes (requires <paramref name="roundScale"/>).</param>
    public static Fp8Tensor PerTokenCast(DeviceTensor x, bool roundScale = false, bool useUe8m0 = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.IsHost || x.DType != DType.BFloat16 || x.Rank != 2 || !x.IsContiguous)
        {
            throw new ArgumentException($"x must be a contiguous host BFloat16 [T, H] tensor, not {x.Describe()}.", nameof(x));
        }
        if (useUe8m0 && !roundScale)
        {
            throw new ArgumentException("useUe8m0 requires roundScale: UE8M0 stores only power-of-two scales.", nameof(useUe8m0));
        }
        long tokens = x.Size(0);
        int hidden = checked((int)x.Size(1));
        int alignment = useUe8m0 ? ChannelsPerScale * ScalesPerUe8m0Word : ChannelsPerScale;
        if (hidden % alignment != 0)
        {
            throw new ArgumentException($"The hidden size {hidden} must be a multiple of {alignment}.", nameof(x));
        }
        int groups = hidden / ChannelsPerScale;
        var data = DeviceTensor.Empty(DType.Float8E4M3, [tokens, hidden]);
        var scales = useUe8m0
            ? DeviceTensor.Empty(DType.Int32, [tokens, groups / ScalesPerUe8m0Word])
            : DeviceTensor.Empty(DType.Float32, [tokens, groups]);
        ReadOnlySpan<BFloat16> source = x.AsSpan<BFloat16>();
        Span<Float8E4M3> target = data.AsSpan<Float8E4M3>();
        Span<float> scaleInv = stackalloc float[groups];
        for (long t = 0; t < tokens; t++)
        {
            CastRow(source.Slice((int)(t * hidden), hidden), target.Slice((int)(t * hidden), hidden), scaleInv, roundScale);
            if (useUe8m0)
            {
                Span<int> words = scales.AsSpan<int>().Slice((int)(t * groups / ScalesPerUe8m0Word), groups / ScalesPerUe8m0Word);
                words.Clear();
                for (int g = 0; g < groups; g++)
                {
                    words[g / ScalesPerUe8m0Word] |= Ue8m0Byte(scaleInv[g]) << (8 * (g % ScalesPerUe8m0Word));
                }
            }
            else
            {
                scaleInv.CopyTo(scales.AsSpan<float>().Slice((int)(t * groups), groups));
            }
        }
        return new Fp8Tensor(data, scales);
    }

    /// <summary>
    /// Casts one row: <paramref name="q"/>[h] = fp8(x[h] · scale) and <paramref name="scaleInv"/>[g] = 1/scale per group.
    /// </summary>
    public static void CastRow(ReadOnlySpan<BFloat16> row, Span<Float8E4M3> q, Span<float> scaleInv, bool roundScale)
    {
        for (int g = 0; g < row.Length / ChannelsPerScale; g++)
        {
            ReadOnlySpan<BFloat16> group = row.Slice(g * ChannelsPerScale, ChannelsPerScale);
            float amax = AmaxFloor;
            foreach (BFloat16 v in group)
            {
                amax = MathF.Max(amax, MathF.Abs(v.ToFloat()));
            }
            float scale = Scale(amax, roundScale, out scaleInv[g]);
            for (int h = 0; h < ChannelsPerScale; h++)
            {
                q[(g * ChannelsPerScale) + h] = Float8E4M3.FromFloat(group[h].ToFloat() * scale);
            }
        }
    }

    /// <summary>
    /// Casts BF16 weights to FP8 with one scale per 128 × 128 block of the last two dimensions (DeepSeek-V3's
    /// checkpoint format): for each block, scale_inv = max(amax, <see cref="AmaxFloor"/>) / 448 and
    /// q = fp8(w · 448 / amax), the arithmetic of <see cref="CastRow"/> over a block instead of a row group.
    /// </summary>
    /// <param name="weights">Contiguous host BF16 <c>[..., M, K]</c> (rank ≥ 2), M and K multiples of 128.</param>
    /// <returns><see cref="Fp8Tensor.Data"/> Float8E4M3 of the same shape and <see cref="Fp8Tensor.Scales"/> Float32
    /// <c>[..., M/128, K/128]</c> (contiguous) with w ≈ q · scale of its block.</returns>
    public static Fp8Tensor BlockCast(DeviceTensor weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (!weights.IsHost || weights.DType != DType.BFloat16 || weights.Rank < 2 || !weights.IsContiguous
            || weights.Size(-1) % ChannelsPerScale != 0 || weights.Size(-2) % ChannelsPerScale != 0)
        {
            throw new ArgumentException(
                $"weights must be a contiguous host BFloat16 [..., M, K] tensor with M and K multiples of {ChannelsPerScale}, not {weights.Describe()}.", nameof(weights));
        }
        int rows = checked((int)weights.Size(-2));
        int columns = checked((int)weights.Size(-1));
        long matrices = weights.NumElements / ((long)rows * columns);
        long[] scaleShape = [.. weights.Shape[..^2], rows / ChannelsPerScale, columns / ChannelsPerScale];
        var data = DeviceTensor.Empty(DType.Float8E4M3, weights.Shape);
        var scales = DeviceTensor.Empty(DType.Float32, scaleShape);
        ReadOnlySpan<BFloat16> source = weights.AsSpan<BFloat16>();
        Span<Float8E4M3> target = data.AsSpan<Float8E4M3>();
        Span<float> scaleInv = scales.AsSpan<float>();
        int blockRows = rows / ChannelsPerScale;
        int blockColumns = columns / ChannelsPerScale;
        for (long m = 0; m < matrices; m++)
        {
            for (int br = 0; br < blockRows; br++)
            {
                for (int bc = 0; bc < blockColumns; bc++)
                {
                    long first = (m * rows * columns) + ((long)br * ChannelsPerScale * columns) + ((long)bc * ChannelsPerScale);
                    float amax = AmaxFloor;
                    for (int r = 0; r < ChannelsPerScale; r++)
                    {
                        foreach (BFloat16 v in source.Slice((int)(first + ((long)r * columns)), ChannelsPerScale))
                        {
                            amax = MathF.Max(amax, MathF.Abs(v.ToFloat()));
                        }
                    }
                    float scale = Scale(amax, roundScale: false, out scaleInv[(int)((((m * blockRows) + br) * blockColumns) + bc)]);
                    for (int r = 0; r < ChannelsPerScale; r++)
                    {
                        int offset = (int)(first + ((long)r * columns));
                        for (int c = 0; c < ChannelsPerScale; c++)
                        {
                            target[offset + c] = Float8E4M3.FromFloat(source[offset + c].ToFloat() * scale);
                        }
                    }
                }
            }
        }
        return new Fp8Tensor(data, scales);
    }

    /// <summary>
    /// DeepEP's <c>per_token_cast_back</c>: BF16 of <c>fp32(x) · scale</c> per group; Int32 scales are UE8M0
    /// exponent bytes. Scales may be strided (e.g. column-major).
    /// </summary>
    public static DeviceTensor PerTokenCastBack(DeviceTensor data, DeviceTensor scales)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(scales);
        if (!data.IsHost || data.DType != DType.Float8E4M3 || data.Rank != 2 || !data.IsContiguous)
        {
            throw new ArgumentException($"data must be a contiguous host Float8E4M3 [T, H] tensor, not {data.Describe()}.", nameof(data));
        }
        if (!scales.IsHost || scales.Rank != 2 || scales.Size(0) != data.Size(0) || scales.DType is not (DType.Float32 or DType.Int32))
        {
            throw new ArgumentException($"scales must be a host Float32 or Int32 [T, S] tensor matching data's T, not {scales.Describe()}.", nameof(scales));
        }
        long tokens = data.Size(0);
        int hidden = checked((int)data.Size(1));
        var result = DeviceTensor.Empty(DType.BFloat16, [tokens, hidden]);
        ReadOnlySpan<Float8E4M3> source = data.AsSpan<Float8E4M3>();
        Span<BFloat16> target = result.AsSpan<BFloat16>();
        for (long t = 0; t < tokens; t++)
        {
            for (int h = 0; h < hidden; h++)
            {
                int group = h / ChannelsPerScale;
                float scale = scales.DType == DType.Int32
                    ? Ue8m0ToFloat((byte)(scales.At<int>(t, group / ScalesPerUe8m0Word) >> (8 * (group % ScalesPerUe8m0Word))))
                    : scales.At<float>(t, group);
                long i = (t * hidden) + h;
                target[(int)i] = BFloat16.FromFloat(source[(int)i].ToFloat() * scale);
            }
        }
        return result;
    }

    // The multiplier that maps amax onto the FP8 range and its inverse (the stored scale), as the kernels compute them.
    private static float Scale(float amax, bool roundScale, out float scaleInv)
    {
        if (roundScale)
        {
            int exponent = CeilLog2(amax * InverseFp8Max);
            scaleInv = MathF.ScaleB(1f, exponent);
            return MathF.ScaleB(1f, -exponent);
        }
        scaleInv = amax * InverseFp8Max;
        return Float8E4M3.MaxValue / amax;
    }

    /// <summary>ceil(log2(x)) for a positive normal float, from its bits as the kernels compute it.</summary>
    public static int CeilLog2(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        int exponent = (int)((bits >> 23) & 0xFF) - 127;
        return exponent + ((bits & 0x7FFFFF) != 0 ? 1 : 0);
    }

    /// <summary>The UE8M0 byte of a power-of-two scale: its biased float exponent.</summary>
    public static int Ue8m0Byte(float scale) => (int)((BitConverter.SingleToUInt32Bits(scale) >> 23) & 0xFF);

    /// <summary>The float a UE8M0 byte stands for, 2^(byte-127).</summary>
    public static float Ue8m0ToFloat(byte exponent) => BitConverter.UInt32BitsToSingle((uint)exponent << 23);
}
