namespace DeepEP.Ep;

/// <summary>
/// Normal-mode kernel configuration, DeepEP's <c>Config</c>: SM count (two blocks per channel, so
/// <see cref="NumSms"/>/2 channels) and the NVLink/RDMA chunk sizes in tokens.
/// </summary>
public sealed record EpConfig
{
    /// <summary>Creates a configuration, checking the same rules as upstream.</summary>
    /// <param name="numSms">SMs (thread blocks) used by the kernels; must be even when used.</param>
    /// <param name="numMaxNvlChunkedSendTokens">Tokens a sender writes before publishing its tail.</param>
    /// <param name="numMaxNvlChunkedRecvTokens">Ring capacity per (channel, peer), in tokens.</param>
    /// <param name="numMaxRdmaChunkedSendTokens">Internode send chunk (kept for API parity).</param>
    /// <param name="numMaxRdmaChunkedRecvTokens">Internode ring capacity; rounded up to a multiple of the send chunk, as upstream does.</param>
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

    /// <summary>SMs used by the normal kernels (even); <c>NumSms / 2</c> channels.</summary>
    public int NumSms { get; }

    /// <summary>Number of channels, <c>NumSms / 2</c>.</summary>
    public int NumChannels => NumSms / 2;

    /// <summary>NVLink send chunk in tokens.</summary>
    public int NumMaxNvlChunkedSendTokens { get; }

    /// <summary>NVLink ring capacity per (channel, peer) in tokens.</summary>
    public int NumMaxNvlChunkedRecvTokens { get; }

    /// <summary>RDMA send chunk in tokens.</summary>
    public int NumMaxRdmaChunkedSendTokens { get; }

    /// <summary>RDMA ring capacity in tokens (already a multiple of the send chunk).</summary>
    public int NumMaxRdmaChunkedRecvTokens { get; }

    /// <summary>
    /// Bytes of <c>numNvlBytes</c> normal-mode dispatch and combine need with ranks as threads of one process
    /// (DeepEP's <c>get_nvl_buffer_size_hint</c>). Exact there: tokens go straight into the destination's outputs and
    /// the buffer holds only a header, the same for every row size, rank count and configuration; the arguments are
    /// checked and kept for API parity. With one process per GPU received rows are staged in the buffer, so use
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
    /// per GPU, peers cannot address a rank's output tensors, so every rank stages the rows it receives (and its
    /// combine inputs) in a receive arena carved from the buffer: room for all <c>numRanks * numMaxTokensPerRank</c>
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
