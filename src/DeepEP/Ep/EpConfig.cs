namespace DeepEP.Ep;

/// <summary>
/// Normal-mode kernel configuration, DeepEP's <c>Config</c>. With this library's kernels only <see cref="NumSms"/>
/// matters: it is the number of blocks the dispatch and combine copy kernels launch, and the token layout
/// (the handle's channel prefix matrices) uses <see cref="NumChannels"/> = <see cref="NumSms"/>/2 channels.
/// Our kernels have no ring buffers and send no chunks (dispatch writes each token straight into its final row at the
/// destination, combine reads the rows in place), so the four chunk sizes are accepted, checked and rounded as
/// upstream does, for DeepEP compatibility, and otherwise ignored.
/// </summary>
public sealed record EpConfig
{
    /// <summary>Creates a configuration, checking the same rules as upstream.</summary>
    /// <param name="numSms">Blocks of the copy kernels (<c>numSms / 2</c> channels); must be even when used.</param>
    /// <param name="numMaxNvlChunkedSendTokens">Upstream's NVLink send chunk; checked (smaller than the receive size) and ignored by our kernels.</param>
    /// <param name="numMaxNvlChunkedRecvTokens">Upstream's NVLink ring size per (channel, peer); checked and ignored by our kernels.</param>
    /// <param name="numMaxRdmaChunkedSendTokens">Upstream's RDMA send chunk; checked (at most half the receive size) and ignored by our kernels.</param>
    /// <param name="numMaxRdmaChunkedRecvTokens">Upstream's RDMA ring size; rounded up to a multiple of the send chunk, as upstream does, and ignored by our kernels.</param>
    public EpConfig(int numSms = 20, int numMaxNvlChunkedSendTokens = 6, int numMaxNvlChunkedRecvTokens = 256,
        int numMaxRdmaChunkedSendTokens = 6, int numMaxRdmaChunkedRecvTokens = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numSms);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numMaxNvlChunkedSendTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numMaxNvlChunkedRecvTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numMaxRdmaChunkedSendTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numMaxRdmaChunkedRecvTokens);
        if (numMaxNvlChunkedSendTokens >= numMaxNvlChunkedRecvTokens)
        {
            throw new ArgumentException(
                $"numMaxNvlChunkedSendTokens ({numMaxNvlChunkedSendTokens}) must be smaller than numMaxNvlChunkedRecvTokens ({numMaxNvlChunkedRecvTokens}).",
                nameof(numMaxNvlChunkedSendTokens));
        }
        int rdmaRecv = (numMaxRdmaChunkedRecvTokens + numMaxRdmaChunkedSendTokens - 1) / numMaxRdmaChunkedSendTokens * numMaxRdmaChunkedSendTokens;
        if (numMaxRdmaChunkedSendTokens > rdmaRecv / 2)
        {
            throw new ArgumentException(
                $"numMaxRdmaChunkedSendTokens ({numMaxRdmaChunkedSendTokens}) must be at most half of numMaxRdmaChunkedRecvTokens ({rdmaRecv} after alignment).",
                nameof(numMaxRdmaChunkedSendTokens));
        }
        NumSms = numSms;
        NumMaxNvlChunkedSendTokens = numMaxNvlChunkedSendTokens;
        NumMaxNvlChunkedRecvTokens = numMaxNvlChunkedRecvTokens;
        NumMaxRdmaChunkedSendTokens = numMaxRdmaChunkedSendTokens;
        NumMaxRdmaChunkedRecvTokens = rdmaRecv;
    }

    /// <summary>Blocks the normal-mode copy kernels launch (even; at most <see cref="EpBuffer.SmBudget"/>); <c>NumSms / 2</c> channels.</summary>
    public int NumSms { get; }

    /// <summary>Channels of the token layout, <c>NumSms / 2</c>: a dispatch handle records it, and cached dispatch and combine must use the same.</summary>
    public int NumChannels => NumSms / 2;

    /// <summary>Upstream's NVLink send chunk in tokens; kept for DeepEP compatibility, ignored by our kernels.</summary>
    public int NumMaxNvlChunkedSendTokens { get; }

    /// <summary>Upstream's NVLink ring size per (channel, peer) in tokens; kept for DeepEP compatibility, ignored by our kernels (which have no ring).</summary>
    public int NumMaxNvlChunkedRecvTokens { get; }

    /// <summary>Upstream's RDMA send chunk in tokens; kept for DeepEP compatibility, ignored by our kernels.</summary>
    public int NumMaxRdmaChunkedSendTokens { get; }

    /// <summary>Upstream's RDMA ring size in tokens (already a multiple of the send chunk); kept for DeepEP compatibility, ignored by our kernels.</summary>
    public int NumMaxRdmaChunkedRecvTokens { get; }

    /// <summary>
    /// Bytes of <c>numNvlBytes</c> normal-mode dispatch and combine need with ranks as threads of one process
    /// (DeepEP's <c>get_nvl_buffer_size_hint</c>). Exact there: tokens go straight into the destination's outputs and
    /// the buffer holds only a header, the same for every row size, rank count and configuration; the arguments are
    /// checked and kept for API parity. With one process per GPU received rows live in the buffer, so use
    /// <see cref="GetNvlBufferSizeHint(long, int, int, int)"/>, which covers both process models.
    /// </summary>
    public long GetNvlBufferSizeHint(long hiddenBytes, int numRanks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        return Heuristics.BufferSizeHints.NvlBufferBytes;
    }

    /// <summary>
    /// Bytes of <c>numNvlBytes</c> normal-mode dispatch and combine need in either process model, for up to
    /// <paramref name="numMaxTokensPerRank"/> tokens per rank (or <c>numWorstTokens / numRanks</c>). With one process
    /// per GPU, peers cannot address a rank's tensors, so the rows a rank receives (and its combine inputs) live in a
    /// receive arena carved from the buffer, and the dispatch outputs are views of it: three slots (a held dispatch
    /// result, a combine input buffer, the call in flight), each with room for all <c>numRanks * numMaxTokensPerRank</c>
    /// rows of <paramref name="hiddenBytes"/> (pass the BF16 row, <c>hidden * 2</c>), their FP8 scales (one per 128
    /// channels), source indices and <paramref name="numTopk"/> expert ids and weights.
    /// </summary>
    public long GetNvlBufferSizeHint(long hiddenBytes, int numRanks, int numMaxTokensPerRank, int numTopk)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        ArgumentOutOfRangeException.ThrowIfNegative(numMaxTokensPerRank);
        ArgumentOutOfRangeException.ThrowIfNegative(numTopk);
        return Heuristics.BufferSizeHints.NvlBufferBytesWithArena(hiddenBytes, numRanks * (long)numMaxTokensPerRank, numTopk);
    }

    /// <summary>Bytes of RDMA buffer normal mode needs: 0, since this library's normal mode runs within one NVLink domain (NCCL serves beyond it).</summary>
    public long GetRdmaBufferSizeHint(long hiddenBytes, int numRanks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        return 0;
    }
}
