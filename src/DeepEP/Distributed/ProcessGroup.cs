namespace DeepEP.Distributed;

/// <summary>
/// The ranks of one expert-parallel group and the host-side collectives the library needs (exchange of IPC
/// handles, NCCL ids, counts). Two implementations: in-process ranks (one thread per rank, see
/// <c>CreateInProcess</c>) and multi-process ranks over TCP (see <c>FromEnvironment</c>).
/// Every collective must be called by all ranks in the same order; each has a deadline and throws
/// <c>ProcessGroupTimeoutException</c> naming the ranks that did not arrive.
/// </summary>
public abstract class ProcessGroup : IDisposable
{
    /// <summary>This rank, 0 ≤ Rank &lt; Size.</summary>
    public abstract int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public abstract int Size { get; }

    /// <summary>Rank within this host (the GPU this rank should use by default).</summary>
    public abstract int LocalRank { get; }

    /// <summary>Ranks on this host.</summary>
    public abstract int LocalSize { get; }

    /// <summary>Deadline of each collective when none is passed.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Every rank's payload, indexed by rank. The returned arrays must not be modified.</summary>
    public abstract byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null);

    /// <summary>Sends <c>payloads[d]</c> to rank d; returns what each rank sent to this one, indexed by source rank.</summary>
    public abstract byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null);

    /// <summary>The root's payload on every rank (non-root ranks pass anything, it is ignored).</summary>
    public abstract byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null);

    /// <summary>Returns once every rank has entered.</summary>
    public abstract void Barrier(TimeSpan? timeout = null);

    /// <summary>Releases sockets or shared state.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
