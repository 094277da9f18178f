using DeepEP.Configuration;

namespace DeepEP.Distributed;

/// <summary>
/// The ranks of one expert-parallel group and the host-side collectives the library needs (exchange of IPC
/// handles, NCCL ids, counts). Two implementations: in-process ranks (one thread per rank, see
/// <see cref="CreateInProcess"/>) and multi-process ranks over TCP (see <see cref="FromEnvironment"/> and
/// <see cref="Connect"/>).
/// Every collective must be called by all ranks in the same order; each has a deadline and throws
/// <see cref="ProcessGroupTimeoutException"/> naming the ranks that did not arrive. Any failure
/// (<see cref="ProcessGroupException"/>) leaves the group unusable; create a new one.
/// One rank's group is used by one thread at a time. Each payload is copied once, when its rank contributes;
/// every rank that receives it shares that copy, so returned arrays must not be modified.
/// </summary>
public abstract class ProcessGroup : IDisposable
{
    private ProcessGroupException? firstFailure;
    private int collectiveRunning;
    private bool disposed;

    /// <summary>This rank, 0 ≤ Rank &lt; Size.</summary>
    public abstract int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public abstract int Size { get; }

    /// <summary>Rank within this host (the GPU this rank should use by default).</summary>
    public abstract int LocalRank { get; }

    /// <summary>Ranks on this host.</summary>
    public abstract int LocalSize { get; }

    /// <summary>Deadline of each collective when none is passed; positive, at most about 24 days.</summary>
    public TimeSpan DefaultTimeout
    {
        get;
        init => field = Timeouts.Validate(value, nameof(DefaultTimeout));
    } = Timeouts.Default;

    /// <summary>
    /// Creates <paramref name="size"/> ranks of one process, one <see cref="ProcessGroup"/> per rank, indexed by
    /// rank; call each rank's collectives from its own thread. Local rank and size equal rank and size.
    /// </summary>
    /// <param name="size">Number of ranks, at least 1.</param>
    /// <param name="defaultTimeout">Deadline of each collective when none is passed (default <c>DEEPEP_TIMEOUT_S</c>, else 100 s).</param>
    /// <exception cref="InvalidOperationException"><c>DEEPEP_TIMEOUT_S</c> is used and invalid.</exception>
    public static ProcessGroup[] CreateInProcess(int size, TimeSpan? defaultTimeout = null) =>
        InProcessGroup.Create(size, Timeouts.Resolve(defaultTimeout, nameof(defaultTimeout)));

    /// <summary>
    /// Joins the multi-process group described by the environment as <c>deepep launch</c> or torchrun set it
    /// (see <see cref="DistributedEnvironment.FromProcess"/>): rank 0 listens on MASTER_ADDR:MASTER_PORT and relays
    /// every collective; the other ranks connect to it. Blocks until every rank has joined.
    /// </summary>
    /// <param name="timeout">Deadline of the rendezvous and default deadline of each collective (default <c>DEEPEP_TIMEOUT_S</c>, else 100 s).</param>
    /// <exception cref="InvalidOperationException">A variable is missing or invalid; the message names it.</exception>
    /// <exception cref="ProcessGroupTimeoutException">Not every rank joined in time; names the missing ranks.</exception>
    public static ProcessGroup FromEnvironment(TimeSpan? timeout = null) => Connect(DistributedEnvironment.FromProcess(), timeout);

    /// <summary>Joins the multi-process group that <paramref name="environment"/> describes; see <see cref="FromEnvironment"/>.</summary>
    /// <param name="environment">This rank's place in the group and the address of rank 0.</param>
    /// <param name="timeout">Deadline of the rendezvous and default deadline of each collective (default <c>DEEPEP_TIMEOUT_S</c>, else 100 s).</param>
    /// <exception cref="InvalidOperationException"><c>DEEPEP_TIMEOUT_S</c> is used and invalid.</exception>
    /// <exception cref="ProcessGroupTimeoutException">Not every rank joined in time; names the missing ranks.</exception>
    /// <exception cref="ProcessGroupException">The ranks disagree (world size, duplicate rank) or rank 0 cannot listen.</exception>
    public static ProcessGroup Connect(DistributedEnvironment environment, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return TcpProcessGroup.Connect(environment, Timeouts.Resolve(timeout, nameof(timeout)));
    }

    /// <summary>Every rank's payload, indexed by rank. The returned arrays must not be modified.</summary>
    /// <param name="payload">This rank's bytes.</param>
    /// <param name="timeout">Deadline from the call (default <see cref="DefaultTimeout"/>).</param>
    public abstract byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null);

    /// <summary>Sends <c>payloads[d]</c> to rank d; returns what each rank sent to this one, indexed by source rank.</summary>
    /// <param name="payloads">One payload per destination rank, <see cref="Size"/> of them.</param>
    /// <param name="timeout">Deadline from the call (default <see cref="DefaultTimeout"/>).</param>
    public abstract byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null);

    /// <summary>The root's payload on every rank (non-root ranks pass anything, it is ignored).</summary>
    /// <param name="payload">The root's bytes; ignored elsewhere.</param>
    /// <param name="root">The rank whose payload everyone receives; the same on every rank.</param>
    /// <param name="timeout">Deadline from the call (default <see cref="DefaultTimeout"/>).</param>
    public abstract byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null);

    /// <summary>Returns once every rank has entered.</summary>
    /// <param name="timeout">Deadline from the call (default <see cref="DefaultTimeout"/>).</param>
    public abstract void Barrier(TimeSpan? timeout = null);

    /// <summary>Leaves the group: releases sockets or shared state; ranks still waiting for this one fail at once.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>
    /// Runs one collective of this rank: refuses after disposal, after an earlier failure (the group is broken) and
    /// while another collective of this rank is running; remembers the first failure.
    /// </summary>
    private protected T RunCollective<T>(Func<T> collective)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (firstFailure is not null)
        {
            throw ProcessGroupException.Unusable(Rank, firstFailure);
        }
        if (Interlocked.Exchange(ref collectiveRunning, 1) != 0)
        {
            throw new InvalidOperationException(
                $"Rank {Rank} called a collective while another of its collectives was running; use each rank's group from one thread at a time.");
        }
        try
        {
            return collective();
        }
        catch (ProcessGroupException failure) when (failure is not RankLeftOutException)
        {
            firstFailure = failure;
            throw;
        }
        finally
        {
            Volatile.Write(ref collectiveRunning, 0);
        }
    }

    /// <summary>The deadline a collective runs under: <paramref name="timeout"/> or <see cref="DefaultTimeout"/>.</summary>
    private protected TimeSpan ResolveTimeout(TimeSpan? timeout) =>
        timeout is { } given ? Timeouts.Validate(given, nameof(timeout)) : DefaultTimeout;

    /// <summary>Throws unless <paramref name="root"/> is a rank of this group.</summary>
    private protected void ValidateRoot(int root)
    {
        if ((uint)root >= (uint)Size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank of this group, 0 ≤ root < {Size}.");
        }
    }

    /// <summary>Throws unless there is one payload per rank.</summary>
    private protected void ValidatePayloadCount(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (payloads.Count != Size)
        {
            throw new ArgumentException($"AllToAll needs one payload per destination rank: {Size}, got {payloads.Count}.", nameof(payloads));
        }
    }
}
