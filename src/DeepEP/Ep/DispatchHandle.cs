using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// The intranode dispatch handle (spec §2.5), reused by cached dispatch and combine. It ties those calls to
/// the channel count (<see cref="NumChannels"/>) of the dispatch that created it. <see cref="SendHead"/> is
/// rewritten in place by the first combine, as upstream does.
/// </summary>
/// <param name="RankPrefixMatrix"><c>[R, R]</c> Int32 inclusive prefix over source ranks of tokens sent to each rank.</param>
/// <param name="ChannelPrefixMatrix"><c>[R, C]</c> Int32 sender side: this rank's tokens in channels 0..c going to rank d (inclusive).</param>
/// <param name="RecvChannelPrefixMatrix"><c>[R, C]</c> Int32 receiver side: exclusive start of channel c inside source s's block.</param>
/// <param name="RecvSrcIdx"><c>[M]</c> Int32 source token index of each received row.</param>
/// <param name="IsTokenInRank"><c>[T, R]</c> Bool, the tensor passed to dispatch.</param>
/// <param name="SendHead"><c>[T, R]</c> Int32 position of each sent token in its (channel, destination) stream, or a negative code.</param>
/// <param name="NumChannels">Channel count C of the dispatch that created the handle.</param>
public sealed record DispatchHandle(
    DeviceTensor RankPrefixMatrix,
    DeviceTensor ChannelPrefixMatrix,
    DeviceTensor RecvChannelPrefixMatrix,
    DeviceTensor RecvSrcIdx,
    DeviceTensor IsTokenInRank,
    DeviceTensor SendHead,
    int NumChannels) : IDisposable
{
    /// <summary>Frees the handle's own tensors; <see cref="IsTokenInRank"/> belongs to the caller and stays.</summary>
    public void Dispose()
    {
        RankPrefixMatrix.Dispose();
        ChannelPrefixMatrix.Dispose();
        RecvChannelPrefixMatrix.Dispose();
        RecvSrcIdx.Dispose();
        SendHead.Dispose();
    }

    /// <summary>Rows of the dispatch output, M (includes worst-case padding when <c>numWorstTokens</c> was used).</summary>
    public long NumRecvTokens => RecvSrcIdx.Size(0);

    /// <summary>This rank's original token count T.</summary>
    public long NumTokens => SendHead.Size(0);
}
