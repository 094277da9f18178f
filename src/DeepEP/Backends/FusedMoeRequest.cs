using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated fused MoE layer: low-latency dispatch, the local experts' FFN, low-latency combine.</summary>
internal sealed record FusedMoeRequest(
    DeviceTensor X,
    DeviceTensor TopkIdx,
    DeviceTensor TopkWeights,
    MoeExpertWeights Weights,
    int NumMaxDispatchTokensPerRank,
    int NumExperts,
    FuseMode Mode,
    StreamOptions Streams)
{
    /// <summary>
    /// What the GPU backends throw: their grouped GEMM and SwiGLU kernels are not written yet, and a fused call must
    /// not silently fall back to the host.
    /// </summary>
    public static NotSupportedException GpuPathNotBuilt(EpBackendKind backend) => new(
        $"FusedDeepMoe is not available on the {backend} backend yet: its GPU grouped GEMM and SwiGLU kernels are pending (docs/fused-moe.md). "
        + "Use the host backend (EpBufferOptions.Backend = EpBackendKind.Host, host tensors) for the reference, or LowLatencyDispatch, your own expert GEMMs and LowLatencyCombine on the GPU.");
}
