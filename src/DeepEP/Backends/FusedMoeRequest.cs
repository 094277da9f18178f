using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated fused MoE layer: low-latency dispatch, the local experts' FFN, low-latency combine (into <paramref name="Out"/> when given).</summary>
internal sealed record FusedMoeRequest(
    DeviceTensor X,
    DeviceTensor TopkIdx,
    DeviceTensor TopkWeights,
    MoeExpertWeights Weights,
    int NumMaxDispatchTokensPerRank,
    int NumExperts,
    FuseMode Mode,
    StreamOptions Streams,
    DeviceTensor? Out);
