using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Ep.Heuristics;

/// <summary>Bytes the communication buffers need, by mode; the public faces are <see cref="EpConfig.GetNvlBufferSizeHint(long, int)"/> and <see cref="EpBuffer.GetLowLatencyRdmaSizeHint(int, int, int, int)"/>.</summary>
internal static class BufferSizeHints
{
    /// <summary>Alignment of every buffer size.</summary>
    public const int Alignment = BufferGeometry.Alignment;

    /// <summary>
    /// Bytes of <c>numNvlBytes</c> normal mode needs with this library's kernels: senders write every token straight
    /// into its final row of the destination's outputs, so the shared buffer holds only the header of counts,
    /// barrier epochs and per-call pointers — the same for every hidden size, rank count and configuration.
    /// </summary>
    public static long NvlBufferBytes => BufferGeometry.HeaderBytes;

    /// <summary>
    /// Bytes of <c>numNvlBytes</c> with one process per GPU: the header, then a receive arena of
    /// <see cref="ReceiveArenaLayout.Slots"/> slots, each of <paramref name="rows"/> rows of <paramref name="rowBytes"/> (the BF16 row) with FP8 scales for 128-channel groups and top-k entries.
    /// </summary>
    public static long NvlBufferBytesWithArena(long rowBytes, long rows, int numTopk)
    {
        int numScales = checked((int)(((rowBytes / 2) + Fp8Cast.ChannelsPerScale - 1) / Fp8Cast.ChannelsPerScale));
        return NvlBufferBytes + ReceiveArenaLayout.ArenaBytesFor(rows, rowBytes, numScales, numTopk);
    }

    /// <summary>
    /// DeepEP's <c>get_low_latency_rdma_size_hint</c> (spec §5.1): two buffer sets of signalling ints, send and
    /// receive areas. Like upstream it adds a full 128 bytes even when the total is aligned, and ignores <paramref name="numRanks"/>.
    /// </summary>
    public static long LowLatencySizeHint(int numMaxDispatchTokensPerRank, int hidden, int numRanks, int numExperts)
    {
        _ = numRanks;
        return new LowLatencyLayout(numMaxDispatchTokensPerRank, hidden, numExperts).TotalBytes;
    }

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="alignment"/>.</summary>
    public static long AlignUp(long value, long alignment) => BufferGeometry.AlignUp(value, alignment);
}
