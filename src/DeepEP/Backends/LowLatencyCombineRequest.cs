using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// A validated low-latency combine (spec §5.4). Of <see cref="Streams"/> only <c>AsyncFinish</c> and
/// <c>ComputeStream</c> apply (DeepEP's low-latency calls take no previous event and allocate on the caller's stream).
/// </summary>
internal sealed record LowLatencyCombineRequest(
    DeviceTensor X,
    DeviceTensor TopkIdx,
    DeviceTensor TopkWeights,
    LowLatencyHandle Handle,
    bool UseLogfmt,
    bool ZeroCopy,
    StreamOptions Streams,
    bool ReturnRecvHook,
    DeviceTensor? Out,
    DeviceTensor? CombineWaitRecvCostStats);
