namespace DeepEP.Ep.Heuristics;

/// <summary>Bytes the communication buffers need, by mode (spec §4.3, §4.5, §5.1).</summary>
public static class BufferSizeHints
{
    /// <summary>Alignment of every buffer size.</summary>
    public const int Alignment = 128;

    /// <summary>Channels per 128 (the FP8 scale group).</summary>
    public const int ChannelsPerScale = 128;

    /// <summary>
    /// NVLink bytes a normal dispatch needs: the rank-prefix header, four <c>[C, R]</c> channel counters and the
    /// per-(channel, source) rings of <paramref name="ringTokens"/> tokens holding data, source index, top-k
    /// indices (Int64) and weights, and scales.
    /// </summary>
    public static long NormalDispatchBytes(int numRanks, int numChannels, int ringTokens, long hiddenBytes, int numTopk, int numScales)
    {
        long slots = (long)numChannels * numRanks * ringTokens;
        long bytes = ((long)numRanks * numRanks * sizeof(int))
            + (4L * numChannels * numRanks * sizeof(int))
            + (slots * hiddenBytes)
            + (slots * sizeof(int))
            + (slots * numTopk * sizeof(long))
            + (slots * numTopk * sizeof(float))
            + (slots * numScales * sizeof(float));
        return AlignUp(bytes, Alignment);
    }

    /// <summary>NVLink bytes a normal combine needs: two <c>[C, R]</c> counters and rings of BF16 rows, source index and weights.</summary>
    public static long NormalCombineBytes(int numRanks, int numChannels, int ringTokens, int hidden, int numTopk)
    {
        long slots = (long)numChannels * numRanks * ringTokens;
        long bytes = (2L * numChannels * numRanks * sizeof(int))
            + (slots * hidden * 2)
            + (slots * sizeof(int))
            + (slots * numTopk * sizeof(float));
        return AlignUp(bytes, Alignment);
    }

    /// <summary>
    /// DeepEP's <c>Config.get_nvl_buffer_size_hint</c> for this library's layout: enough for a dispatch of any
    /// dtype up to <paramref name="hiddenBytes"/> per row with up to 128 top-k slots and 128 scales, and for a combine.
    /// </summary>
    public static long NvlBufferSizeHint(EpConfig config, long hiddenBytes, int numRanks)
    {
        ArgumentNullException.ThrowIfNull(config);
        const int MaxTopk = 128;
        const int MaxScales = 128;
        long dispatch = NormalDispatchBytes(numRanks, config.NumChannels, config.NumMaxNvlChunkedRecvTokens, hiddenBytes, MaxTopk, MaxScales);
        long combine = NormalCombineBytes(numRanks, config.NumChannels, config.NumMaxNvlChunkedRecvTokens, (int)(hiddenBytes / 2), MaxTopk);
        return Math.Max(dispatch, combine);
    }

    /// <summary>
    /// DeepEP's <c>get_low_latency_rdma_size_hint</c> (spec §5.1): two buffer sets of signalling ints, send and
    /// receive areas. Like upstream it adds a full 128 bytes even when the total is aligned, and ignores <paramref name="numRanks"/>.
    /// </summary>
    public static long LowLatencySizeHint(int numMaxDispatchTokensPerRank, int hidden, int numRanks, int numExperts)
    {
        _ = numRanks;
        long n = numMaxDispatchTokensPerRank;
        long scales = hidden / ChannelsPerScale;
        long dispatchMessage = 16 + Math.Max(2L * hidden, hidden + (4 * scales));
        long combineMessage = (4 * scales) + (2L * hidden);
        long send = Math.Max(n * dispatchMessage, numExperts * n * combineMessage);
        long recv = Math.Max(numExperts * n * dispatchMessage, numExperts * n * combineMessage);
        long signalling = AlignUp(4L * numExperts, Alignment);
        long total = (2 * signalling) + (2 * send) + (2 * recv);
        return ((total + Alignment) / Alignment) * Alignment;
    }

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="alignment"/>.</summary>
    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
