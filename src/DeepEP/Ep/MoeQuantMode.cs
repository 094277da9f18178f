namespace DeepEP.Ep;

/// <summary>The number format of <see cref="MoeExpertWeights"/> and of the activations the expert FFN multiplies them with (docs/fused-moe.md).</summary>
public enum MoeQuantMode
{
    /// <summary>BF16 weights and BF16 activations, float32 accumulation.</summary>
    None,

    /// <summary>
    /// W8A8 (DeepEP-Ascend's <c>quant_mode=1</c>): Int8 weights with one Float32 scale per output channel, activations
    /// cast to Int8 per token (row) before each GEMM, exact integer accumulation.
    /// </summary>
    Int8,

    /// <summary>
    /// FP8 E4M3 weights with one Float32 scale per 128 × 128 block (DeepSeek-V3's checkpoint format), activations cast to
    /// E4M3 with one scale per token and 128 channels before each GEMM, float32 accumulation per 128-channel block.
    /// </summary>
    Fp8,
}
