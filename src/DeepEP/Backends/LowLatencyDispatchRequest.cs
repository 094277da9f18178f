using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated low-latency dispatch (spec §5.3).</summary>
internal sealed record LowLatencyDispatchRequest(
    DeviceTensor X,
    DeviceTensor TopkIdx,
    int NumMaxDispatchTokensPerRank,
    int NumExperts,
    DeviceTensor? CumulativeLocalExpertRecvStats,
    DeviceTensor? DispatchWaitRecvCostStats,
    bool UseFp8,
    bool RoundScale,
    bool UseUe8m0,
    bool AsyncFinish,
    bool ReturnRecvHook);
