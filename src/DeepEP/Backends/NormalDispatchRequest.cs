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
    StreamOptions Streams)
{
    /// <summary>A dispatch routed by <paramref name="layout"/> (a new handle results).</summary>
    public static NormalDispatchRequest FromLayout(DeviceTensor x, DeviceTensor? xScales, DispatchLayout layout, DeviceTensor? topkIdx, DeviceTensor? topkWeights,
        int numExperts, int expertAlignment, int numWorstTokens, EpConfig config, StreamOptions streams) =>
        new(x, xScales, null, layout.NumTokensPerRank, layout.IsTokenInRank, layout.NumTokensPerExpert, topkIdx, topkWeights, numExperts,
            expertAlignment, numWorstTokens, config, streams);

    /// <summary>A cached dispatch: the routing of <paramref name="handle"/>, new data.</summary>
    public static NormalDispatchRequest Cached(DeviceTensor x, DeviceTensor? xScales, DispatchHandle handle, EpConfig config, StreamOptions streams) =>
        new(x, xScales, handle, null, null, null, null, null, NumExperts: 0, ExpertAlignment: 1, NumWorstTokens: 0, config, streams);
}
