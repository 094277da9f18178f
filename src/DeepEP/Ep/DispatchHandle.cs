using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// The intranode dispatch handle (spec §2.5), reused by cached dispatch and combine. It ties those calls to
/// the channel count (<see cref="NumChannels"/>) of the dispatch that created it. <see cref="SendHead"/> is
/// rewritten in place by the first combine, as upstream does.
/// </summary>
/// <remarks>Only dispatch creates handles: the constructor is internal.</remarks>
public sealed record DispatchHandle : IDisposable
{
    internal DispatchHandle(
        DeviceTensor rankPrefixMatrix,
        DeviceTensor channelPrefixMatrix,
        DeviceTensor recvChannelPrefixMatrix,
        DeviceTensor recvSrcIdx,
        DeviceTensor isTokenInRank,
        DeviceTensor sendHead,
        int numChannels)
    {
        RankPrefixMatrix = rankPrefixMatrix;
        ChannelPrefixMatrix = channelPrefixMatrix;
        RecvChannelPrefixMatrix = recvChannelPrefixMatrix;
        RecvSrcIdx = recvSrcIdx;
        IsTokenInRank = isTokenInRank;
        SendHead = sendHead;
        NumChannels = numChannels;
    }

    /// <summary><c>[R, R]</c> Int32 inclusive prefix over source ranks of tokens sent to each rank.</summary>
    public DeviceTensor RankPrefixMatrix { get; init; }

    /// <summary><c>[R, C]</c> Int32 sender side: this rank's tokens in channels 0..c going to rank d (inclusive).</summary>
    public DeviceTensor ChannelPrefixMatrix { get; init; }

    /// <summary><c>[R, C]</c> Int32 receiver side: exclusive start of channel c inside source s's block.</summary>
    public DeviceTensor RecvChannelPrefixMatrix { get; init; }

    /// <summary><c>[M]</c> Int32 source token index of each received row.</summary>
    public DeviceTensor RecvSrcIdx { get; init; }

    /// <summary><c>[T, R]</c> Bool, the tensor passed to dispatch.</summary>
    public DeviceTensor IsTokenInRank { get; init; }

    /// <summary><c>[T, R]</c> Int32 position of each sent token in its (channel, destination) stream, or a negative code.</summary>
    public DeviceTensor SendHead { get; init; }

    /// <summary>Channel count C of the dispatch that created the handle.</summary>
    public int NumChannels { get; init; }

    /// <summary>The expanded layout of a <c>doExpand: true</c> dispatch (combine then takes expanded rows); null otherwise.</summary>
    public ExpertExpansion? Expansion { get; internal init; }

    /// <summary>Takes the handle apart, in the order upstream's handle tuple lists its tensors.</summary>
    public void Deconstruct(
        out DeviceTensor RankPrefixMatrix,
        out DeviceTensor ChannelPrefixMatrix,
        out DeviceTensor RecvChannelPrefixMatrix,
        out DeviceTensor RecvSrcIdx,
        out DeviceTensor IsTokenInRank,
        out DeviceTensor SendHead,
        out int NumChannels)
    {
        RankPrefixMatrix = this.RankPrefixMatrix;
        ChannelPrefixMatrix = this.ChannelPrefixMatrix;
        RecvChannelPrefixMatrix = this.RecvChannelPrefixMatrix;
        RecvSrcIdx = this.RecvSrcIdx;
        IsTokenInRank = this.IsTokenInRank;
        SendHead = this.SendHead;
        NumChannels = this.NumChannels;
    }

    /// <summary>Frees the handle's own tensors; <see cref="IsTokenInRank"/> belongs to the caller and stays.</summary>
    public void Dispose()
    {
        RankPrefixMatrix.Dispose();
        ChannelPrefixMatrix.Dispose();
        RecvChannelPrefixMatrix.Dispose();
        RecvSrcIdx.Dispose();
        SendHead.Dispose();
        Expansion?.Dispose();
    }

    /// <summary>Rows of the dispatch output, M (includes worst-case padding when <c>numWorstTokens</c> was used).</summary>
    public long NumRecvTokens => RecvSrcIdx.Size(0);

    /// <summary>This rank's original token count T.</summary>
    public long NumTokens => SendHead.Size(0);
}
