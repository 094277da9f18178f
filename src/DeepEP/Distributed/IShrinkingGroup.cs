namespace DeepEP.Distributed;

/// <summary>
/// The collectives of low-latency shrink mode, which can complete without a stalled rank. Implemented by in-process
/// groups; TCP groups do not have them yet (the relay's wire format carries no left-out ranks).
/// </summary>
internal interface IShrinkingGroup
{
    /// <summary>
    /// Like <see cref="ProcessGroup.AllToAll"/>, but a rank that has not arrived when the deadline passes is left out:
    /// the call returns without it (its entry is null), and every later call of this kind neither waits for it nor
    /// delivers to it, until <see cref="Readmit"/>. Other collectives are refused while a rank is left out, and the
    /// left-out rank's own calls throw <see cref="RankLeftOutException"/>.
    /// </summary>
    /// <param name="payloads">One payload per destination rank.</param>
    /// <param name="timeout">Deadline from the call (default <see cref="ProcessGroup.DefaultTimeout"/>).</param>
    /// <returns>What each rank sent to this one, indexed by source rank; null for the ranks left out.</returns>
    byte[]?[] AllToAllLeavingOutLateRanks(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null);

    /// <summary>A barrier of every rank, left-out ones included, after which no rank is left out any more.</summary>
    /// <param name="timeout">Deadline from the call (default <see cref="ProcessGroup.DefaultTimeout"/>).</param>
    void Readmit(TimeSpan? timeout = null);
}
