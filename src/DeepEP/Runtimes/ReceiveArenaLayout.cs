namespace DeepEP.Runtimes;

/// <summary>
/// Where one call's rows sit in a slot of a rank's receive arena, the memory of the one-process-per-GPU model that
/// peers can address (they cannot map each other's tensors across processes, so dispatch writes here, the outputs view
/// it, and combine reads from here). Byte offsets from the slot's start; each region starts on a 128-byte boundary. A region a call does not use is empty.
/// </summary>
/// <param name="Rows">Rows every region holds.</param>
/// <param name="X">Token rows, <c>[Rows, rowBytes]</c>.</param>
/// <param name="XScales">FP8 scales, <c>[Rows, numScales]</c> 4-byte words.</param>
/// <param name="SrcIdx">Source token indices, <c>[Rows]</c> Int32.</param>
/// <param name="TopkIdx">Rebased expert ids, <c>[Rows, numTopk]</c> Int64.</param>
/// <param name="TopkWeights">Weights, <c>[Rows, numTopk]</c> Float32.</param>
/// <param name="Bytes">End of the last region.</param>
internal readonly record struct ReceiveArenaLayout(long Rows, long X, long XScales, long SrcIdx, long TopkIdx, long TopkWeights, long Bytes)
{
    /// <summary>
    /// Equal slots per arena (the kernels backend's <c>ArenaSlots</c>): a dispatch result the caller holds, a combine
    /// input buffer, and one for the call in flight.
    /// </summary>
    public const int Slots = 3;

    private const int Regions = 5;
    private const int Alignment = 128;

    /// <summary>Lays out <paramref name="rows"/> rows of <paramref name="rowBytes"/> bytes with their scales and top-k entries.</summary>
    public static ReceiveArenaLayout Of(long rows, long rowBytes, int numScales, int numTopk)
    {
        long x = 0;
        long scales = AlignUp(x + (rows * rowBytes));
        long srcIdx = AlignUp(scales + (rows * numScales * sizeof(float)));
        long topkIdx = AlignUp(srcIdx + (rows * sizeof(int)));
        long topkWeights = AlignUp(topkIdx + (rows * numTopk * sizeof(long)));
        long end = topkWeights + (rows * numTopk * sizeof(float));
        return new ReceiveArenaLayout(rows, x, scales, srcIdx, topkIdx, topkWeights, end);
    }

    /// <summary>Bytes an arena needs to hold <paramref name="rows"/> rows (a multiple of 128, at least <see cref="Of"/>'s end).</summary>
    public static long BytesFor(long rows, long rowBytes, int numScales, int numTopk) =>
        AlignUp((rows * BytesPerRow(rowBytes, numScales, numTopk)) + (Regions * Alignment));

    /// <summary>Bytes an arena of <see cref="Slots"/> slots needs for each to hold <paramref name="rows"/> rows.</summary>
    public static long ArenaBytesFor(long rows, long rowBytes, int numScales, int numTopk) =>
        Slots * BytesFor(rows, rowBytes, numScales, numTopk);

    /// <summary>The most rows an arena (or slot) of <paramref name="arenaBytes"/> holds: the inverse of <see cref="BytesFor"/>.</summary>
    public static long RowsThatFit(long arenaBytes, long rowBytes, int numScales, int numTopk) =>
        Math.Max(0, (arenaBytes - (Regions * Alignment)) / BytesPerRow(rowBytes, numScales, numTopk));

    private static long BytesPerRow(long rowBytes, int numScales, int numTopk) =>
        rowBytes + (numScales * sizeof(float)) + sizeof(int) + (numTopk * (sizeof(long) + sizeof(float)));

    private static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;
}
