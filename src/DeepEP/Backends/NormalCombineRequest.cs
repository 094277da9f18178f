using DeepEP.Ep;
using DeepEP.Runtimes;
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
    StreamOptions Streams)
{
    /// <summary>Top-k slots per token whose weights are combined: K of <see cref="TopkWeights"/>, or 0 without them.</summary>
    public int NumTopk => TopkWeights is null ? 0 : checked((int)TopkWeights.Size(1));

    /// <summary>
    /// What the GPU backends' combine kernels write on this rank: <paramref name="combined"/> (and <paramref name="combinedWeights"/>)
    /// for the handle's tokens, placed by its layout over <paramref name="numRanks"/> ranks, the biases added first.
    /// </summary>
    public CombineTarget Target(DeviceTensor combined, DeviceTensor? combinedWeights, int numRanks) => new()
    {
        IsTokenInRank = Handle.IsTokenInRank.Pointer,
        SendHead = Handle.SendHead.Pointer,
        ChannelPrefixMatrix = Handle.ChannelPrefixMatrix.Pointer,
        Bias0 = Bias0?.Pointer ?? 0,
        Bias1 = Bias1?.Pointer ?? 0,
        CombinedX = combined.Pointer,
        CombinedTopkWeights = combinedWeights?.Pointer ?? 0,
        NumTokens = checked((int)Handle.NumTokens),
        NumRanks = numRanks,
        NumChannels = Handle.NumChannels,
        NumTopk = NumTopk,
    };
}
