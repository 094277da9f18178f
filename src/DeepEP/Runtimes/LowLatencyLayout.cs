using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>
/// The geometry of the low-latency buffer for one <c>(N, H, E)</c> (spec §5.1): two sets, each with a signalling
/// area, a send area and a receive area, at the byte offsets DeepEP uses, so a buffer sized by
/// <c>BufferGeometry.LowLatencySizeHint</c> holds them. The send area's slots are <c>H + 2S</c> BF16 wide
/// (what <c>GetNextLowLatencyCombineBuffer</c> views); the kernels backend lays its own messages out inside the
/// receive area (<see cref="DispatchSourceBytes"/>).
/// </summary>
internal readonly record struct LowLatencyLayout(int NumMaxDispatchTokensPerRank, int Hidden, int NumExperts)
{
    /// <summary>Buffer sets (double buffering).</summary>
    public const int NumSets = 2;

    private long N => NumMaxDispatchTokensPerRank;

    /// <summary>S, the FP8 scale groups per row.</summary>
    public int NumScales => Hidden / Fp8Cast.ChannelsPerScale;

    /// <summary>DeepEP's dispatch message: 16-byte header, then the BF16 row or the FP8 row and its scales.</summary>
    public long DispatchMessageBytes => 16 + Math.Max(2L * Hidden, Hidden + (4L * NumScales));

    /// <summary>DeepEP's combine slot: per-group meta, then the BF16 row.</summary>
    public long CombineMessageBytes => (4L * NumScales) + (2L * Hidden);

    /// <summary>Bytes of one set's signalling area: the signals, then one 64-bit shape stamp per rank (at least upstream's 4 bytes per expert).</summary>
    public long SignalBytes => BufferGeometry.AlignUp(
        Math.Max(4L * NumExperts, KernelLimits.LowLatencyShapeStampsOffset + (sizeof(long) * KernelLimits.MaxRanks)), BufferGeometry.Alignment);

    /// <summary>Bytes of one set's send area.</summary>
    public long SendBytes => Math.Max(N * DispatchMessageBytes, NumExperts * N * CombineMessageBytes);

    /// <summary>Bytes of one set's receive area.</summary>
    public long RecvBytes => Math.Max(NumExperts * N * DispatchMessageBytes, NumExperts * N * CombineMessageBytes);

    /// <summary>The size hint: the sets plus a full 128 bytes, as upstream computes it.</summary>
    public long TotalBytes => (((NumSets * (SignalBytes + SendBytes + RecvBytes)) + BufferGeometry.Alignment) / BufferGeometry.Alignment) * BufferGeometry.Alignment;

    /// <summary>Byte offset of set <paramref name="set"/>'s signalling area.</summary>
    public long SignalOffset(int set) => set * SignalBytes;

    /// <summary>Byte offset of set <paramref name="set"/>'s send area.</summary>
    public long SendOffset(int set) => (NumSets * SignalBytes) + (set * SendBytes);

    /// <summary>Byte offset of set <paramref name="set"/>'s receive area.</summary>
    public long RecvOffset(int set) => (NumSets * (SignalBytes + SendBytes)) + (set * RecvBytes);

    /// <summary>Elements between rows of the send area's BF16 view (<c>H + 2S</c>).</summary>
    public long SendRowElements => Hidden + (2L * NumScales);

    /// <summary>
    /// The kernels backend's per-source dispatch area: a 16-byte token count, the routing rows (<c>N × K</c> Int32,
    /// padded to 16 bytes), then N messages (the FP8 row and S Float32 scales, or the BF16 row).
    /// </summary>
    public long DispatchSourceBytes(int numTopk, bool useFp8) =>
        16 + BufferGeometry.AlignUp(N * numTopk * 4, 16) + (N * DispatchRowBytes(useFp8));

    /// <summary>One message of the kernels backend's dispatch area: the row, then its scales, padded to 16 bytes (the receive copies 16-byte words).</summary>
    public long DispatchRowBytes(bool useFp8) => useFp8 ? BufferGeometry.AlignUp(Hidden + (4L * NumScales), 16) : 2L * Hidden;
}
