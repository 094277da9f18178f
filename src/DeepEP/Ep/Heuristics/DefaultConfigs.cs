namespace DeepEP.Ep.Heuristics;

/// <summary>Default normal-mode configurations per rank count (spec §4.6), with the SM count set by <see cref="EpBuffer.SetNumSms"/>.</summary>
internal static class DefaultConfigs
{
    // (nvl_send, nvl_recv, rdma_send, rdma_recv) for dispatch and combine, from upstream's tuned tables.
    private static readonly Dictionary<int, (int[] Dispatch, int[] Combine)> Table = new()
    {
        [2] = ([24, 256, 6, 128], [10, 256, 6, 128]),
        [4] = ([6, 256, 6, 128], [9, 256, 6, 128]),
        [8] = ([6, 256, 6, 128], [4, 256, 6, 128]),
        [16] = ([36, 288, 20, 128], [4, 288, 12, 128]),
        [24] = ([32, 288, 8, 128], [1, 288, 8, 128]),
        [32] = ([32, 288, 8, 128], [1, 288, 8, 128]),
        [48] = ([32, 288, 8, 128], [1, 288, 8, 128]),
        [64] = ([32, 288, 8, 128], [1, 288, 8, 128]),
        [96] = ([20, 480, 12, 128], [1, 480, 8, 128]),
        [128] = ([20, 560, 12, 128], [1, 560, 8, 128]),
        [144] = ([32, 720, 12, 128], [2, 720, 8, 128]),
        [160] = ([28, 720, 12, 128], [2, 720, 8, 128]),
    };

    /// <summary>The dispatch or combine default for <paramref name="numRanks"/>; a rank count without a tuned entry uses the next larger tuned one (the largest beyond 160).</summary>
    public static EpConfig For(int numRanks, int numSms, bool combine)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        int key = Table.Keys.Where(k => k >= numRanks).DefaultIfEmpty(Table.Keys.Max()).Min();
        int[] v = combine ? Table[key].Combine : Table[key].Dispatch;
        return new EpConfig(numSms, v[0], v[1], v[2], v[3]);
    }
}
