using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>
/// The number format of the fused MoE layer's expert GEMM operands: the twin of <c>deep_ep::QuantFormat</c>
/// (<c>common/quant_format.cuh</c>). Kernels are named by the enumerator (<see cref="QuantFormats.CppName"/>), so no
/// numeric value crosses to the device.
/// </summary>
internal enum QuantFormat
{
    /// <summary>BFloat16 values, no scales.</summary>
    Bf16,

    /// <summary>Int8 codes, one Float32 scale per row (activations) or output channel (weights).</summary>
    Int8,

    /// <summary>Float8E4M3 values, one Float32 scale per 128 channels (activations) or 128 × 128 block (weights).</summary>
    Fp8,
}

/// <summary>What the kernels and their launchers need to know about a <see cref="QuantFormat"/>.</summary>
internal static class QuantFormats
{
    /// <summary>The C++ enumerator, for name expressions.</summary>
    public static string CppName(this QuantFormat format) => format switch
    {
        QuantFormat.Bf16 => "deep_ep::QuantFormat::kBf16",
        QuantFormat.Int8 => "deep_ep::QuantFormat::kInt8",
        QuantFormat.Fp8 => "deep_ep::QuantFormat::kFp8",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>The element type of operands in this format.</summary>
    public static DType ElementType(this QuantFormat format) => format switch
    {
        QuantFormat.Bf16 => DType.BFloat16,
        QuantFormat.Int8 => DType.Int8,
        QuantFormat.Fp8 => DType.Float8E4M3,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>
    /// The shape of the activation scales of <c>[E, rows, width]</c> activations: Int8 <c>[E, rows]</c>, Fp8
    /// <c>[E, rows, width / 128]</c>; null for Bf16 (no scales).
    /// </summary>
    public static long[]? ActivationScalesShape(this QuantFormat format, long experts, long rows, long width) => format switch
    {
        QuantFormat.Int8 => [experts, rows],
        QuantFormat.Fp8 => [experts, rows, width / Fp8Cast.ChannelsPerScale],
        _ => null,
    };

    /// <summary>
    /// The shape of the scales of <c>[E, n, k]</c> weights: Int8 <c>[E, n]</c> per output channel, Fp8
    /// <c>[E, n / 128, k / 128]</c> per block; null for Bf16.
    /// </summary>
    public static long[]? WeightScalesShape(this QuantFormat format, long experts, long n, long k) => format switch
    {
        QuantFormat.Int8 => [experts, n],
        QuantFormat.Fp8 => [experts, n / Fp8Cast.ChannelsPerScale, k / Fp8Cast.ChannelsPerScale],
        _ => null,
    };
}
