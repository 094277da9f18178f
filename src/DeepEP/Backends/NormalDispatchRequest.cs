using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A validated normal-mode dispatch (spec §2). In cached mode only <see cref="X"/>, <see cref="XScales"/>, <see cref="Handle"/> and <see cref="Config"/> apply.</summary>
internal sealed record NormalDispatchRequest(
    DeviceTensor X,
    DeviceTensor? XScales,
    DispatchHandle? Handle,
    DeviceTensor? NumTokensPerRank,
    DeviceTensor? IsTokenInRank,
    DeviceTensor? NumTokensPerExpert,
    DeviceTensor? TopkIdx,
    DeviceTensor? TopkWeights,
    int NumExperts,
    int ExpertAlignment,
    int NumWorstTokens,
    EpConfig Config,
    StreamOptions Streams);
