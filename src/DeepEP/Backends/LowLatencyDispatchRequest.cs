using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// A validated low-latency dispatch (spec §5.3). Of <see cref="Streams"/> only <c>AsyncFinish</c> and
/// <c>ComputeStream</c> apply (DeepEP's low-latency calls take no previous event and allocate on the caller's stream).
/// With <see cref="CountsAsPrefixSums"/> the receive phase leaves <c>PackedRecvCount</c> as inclusive prefix sums.
/// </summary>
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
    StreamOptions Streams,
    bool ReturnRecvHook,
    bool CountsAsPrefixSums = false);
