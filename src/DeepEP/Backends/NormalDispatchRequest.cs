using DeepEP.Ep;
using DeepEP.Runtimes;
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

    /// <summary>Rows of <see cref="X"/>.</summary>
    public int NumTokens => checked((int)X.Size(0));

    /// <summary>Columns of <see cref="XScales"/>; 0 without scales.</summary>
    public int NumScales => XScales is null ? 0 : checked((int)XScales.Size(1));

    /// <summary>Columns of <see cref="TopkIdx"/>; 0 without top-k (a cached dispatch).</summary>
    public int NumTopk => TopkIdx is null ? 0 : checked((int)TopkIdx.Size(1));

    /// <summary>
    /// What the GPU backends' dispatch kernels read on this rank: the tokens and their routing by <paramref name="handle"/>
    /// (this call's, new or cached) over <paramref name="numRanks"/> ranks.
    /// </summary>
    public DispatchSource Source(DispatchHandle handle, int numRanks) => new()
    {
        X = X.Pointer,
        XScales = XScales?.Pointer ?? 0,
        TopkIdx = TopkIdx?.Pointer ?? 0,
        TopkWeights = TopkWeights?.Pointer ?? 0,
        IsTokenInRank = handle.IsTokenInRank.Pointer,
        SendHead = handle.SendHead.Pointer,
        ChannelPrefixMatrix = handle.ChannelPrefixMatrix.Pointer,
        ScaleTokenStride = XScales?.Stride(0) ?? 0,
        ScaleGroupStride = XScales?.Stride(1) ?? 0,
        NumTokens = NumTokens,
        NumScales = NumScales,
        NumTopk = NumTopk,
        ExpertsPerRank = NumExperts / numRanks,
    };
}
