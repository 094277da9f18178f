using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated normal-mode combine (spec §3).</summary>
internal sealed record NormalCombineRequest(
    DeviceTensor X,
    DispatchHandle Handle,
    DeviceTensor? TopkWeights,
    DeviceTensor? Bias0,
    DeviceTensor? Bias1,
    EpConfig Config,
    StreamOptions Streams);
