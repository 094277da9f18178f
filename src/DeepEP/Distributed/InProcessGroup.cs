namespace DeepEP.Distributed;

/// <summary>
/// One rank of a group whose ranks are threads of this process. Collectives meet in a shared
/// <see cref="CollectiveRendezvous"/>: each rank copies its payload once into the round and every receiver
/// shares that copy.
/// </summary>
internal sealed class InProcessGroup : ProcessGroup, IShrinkingGroup
{
    private readonly CollectiveRendezvous rendezvous;

    private InProcessGroup(CollectiveRendezvous rendezvous, int rank)
    {
        this.rendezvous = rendezvous;
        Rank = rank;
    }

    public override int Rank { get; }

    public override int Size => rendezvous.Size;

    public override int LocalRank => Rank;

    public override int LocalSize => Size;

    /// <summary>The ranks of one new group, indexed by rank.</summary>
    public static InProcessGroup[] Create(int size, TimeSpan defaultTimeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        var rendezvous = new CollectiveRendezvous(size, firstSequence: 1);
        return [.. Enumerable.Range(0, size).Select(rank => new InProcessGroup(rendezvous, rank) { DefaultTimeout = defaultTimeout })];
    }

    public override byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null)
    {
        var round = Join(CollectiveKind.AllGather, -1, payload.ToArray(), timeout);
        return [.. round.Contributions.Select(contribution => (byte[])contribution!)];
    }

    public override byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null) =>
        [.. ExchangeByDestination(CollectiveKind.AllToAll, payloads, timeout).Select(contribution => ((byte[][])contribution!)[Rank])];

    public override byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null)
    {
        ValidateRoot(root);
        var round = Join(CollectiveKind.Broadcast, root, Rank == root ? payload.ToArray() : null, timeout);
        return (byte[])round.Contributions[root]!;
    }

    public override void Barrier(TimeSpan? timeout = null) => Join(CollectiveKind.Barrier, -1, null, timeout);

    public byte[]?[] AllToAllLeavingOutLateRanks(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null) =>
        [.. ExchangeByDestination(CollectiveKind.ShrinkingAllToAll, payloads, timeout).Select(contribution => (contribution as byte[][])?[Rank])];

    public void Readmit(TimeSpan? timeout = null) => Join(CollectiveKind.Readmit, -1, null, timeout);

    protected override void Dispose(bool disposing) => rendezvous.Leave(Rank, $"rank {Rank} closed its process group.");

    /// <summary>Each rank's payloads by destination (null for a rank left out of a shrinking round), indexed by source rank.</summary>
    private object?[] ExchangeByDestination(CollectiveKind kind, IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout)
    {
        ValidatePayloadCount(payloads);
        byte[][] byDestination = [.. payloads.Select(payload => payload.ToArray())];
        return Join(kind, -1, byDestination, timeout).Contributions;
    }

    private CollectiveRound Join(CollectiveKind kind, int root, object? contribution, TimeSpan? timeout)
    {
        var resolved = ResolveTimeout(timeout);
        return RunCollective(() => rendezvous.Join(Rank, kind, root, contribution, resolved));
    }
}
