using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated low-latency combine (spec §5.4).</summary>
internal sealed record LowLatencyCombineRequest(
    DeviceTensor X,
    DeviceTensor TopkIdx,
    DeviceTensor TopkWeights,
    LowLatencyHandle Handle,
    bool UseLogfmt,
    bool ZeroCopy,
    bool AsyncFinish,
    bool ReturnRecvHook,
    DeviceTensor? Out,
    DeviceTensor? CombineWaitRecvCostStats);
