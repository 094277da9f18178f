namespace DeepEP.Distributed;

/// <summary>
/// Matches the ranks' calls into rounds, one collective after another: the state every rank of an in-process group
/// shares, and the state rank 0's TCP relay keeps for all ranks. The n-th call of every rank joins round n; a rank
/// can only be one round ahead of another, so one current round suffices and earlier rounds stay readable by the
/// ranks still collecting their results.
/// </summary>
/// <remarks>
/// The first failure (a timeout, a mismatched collective, a rank leaving mid-collective, a bad configuration) breaks
/// the group for good: nobody can tell which late arrival belongs to which round any more.
/// </remarks>
internal sealed class CollectiveRendezvous
{
    // A plain object, not System.Threading.Lock: blocking joiners use Monitor.Wait on it.
    private readonly object gate = new();
    private readonly long[] nextSequence;
    private readonly string?[] departures;
    private readonly Action<CollectiveRound>? completed;
    private readonly Action<CollectiveFailure>? failed;
    private readonly Action<Deadline>? deadlineChanged;
    private CollectiveRound? current;
    private CollectiveFailure? failure;

    /// <param name="size">Number of ranks.</param>
    /// <param name="firstSequence">Sequence number of the first round (messages count collectives from it).</param>
    /// <param name="completed">Called, under the lock and so in round order, when a round completes; must not block.</param>
    /// <param name="failed">Called, under the lock, once, when the group fails; must not block.</param>
    /// <param name="deadlineChanged">Called, under the lock, when the pending round's deadline moves; an event-driven
    /// owner arms a timer that calls <see cref="ExpireOverdue"/>. Blocking callers (<see cref="Join"/>) need none.</param>
    public CollectiveRendezvous(int size, long firstSequence, Action<CollectiveRound>? completed = null,
        Action<CollectiveFailure>? failed = null, Action<Deadline>? deadlineChanged = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        Size = size;
        nextSequence = new long[size];
        Array.Fill(nextSequence, firstSequence);
        departures = new string?[size];
        this.completed = completed;
        this.failed = failed;
        this.deadlineChanged = deadlineChanged;
    }

    public int Size { get; }

    /// <summary>
    /// Contributes to this rank's next round and blocks until every rank has arrived; returns the completed round.
    /// Throws the group's failure if it fails first, or <see cref="ProcessGroupTimeoutException"/> naming the
    /// missing ranks once <paramref name="timeout"/> passes.
    /// </summary>
    public CollectiveRound Join(int rank, CollectiveKind kind, int root, object? contribution, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        lock (gate)
        {
            var round = ArriveLocked(rank, kind, root, contribution, deadline, timeout);
            while (round is not null && !round.IsComplete && round.Failure is null)
            {
                if (deadline.HasPassed)
                {
                    FailLocked(CollectiveFailure.TimedOut(round.Kind.ToString(), round.MissingRanks(), timeout, round.Context));
                    break;
                }
                Monitor.Wait(gate, deadline.RemainingMilliseconds);
            }
            if (round is null || !round.IsComplete)
            {
                throw failure!.ToException();
            }
            return round;
        }
    }

    /// <summary>
    /// Contributes to this rank's next round without waiting: the owner learns the outcome through the callbacks.
    /// Ignored once the group has failed (every rank was told then).
    /// </summary>
    public void Arrive(int rank, CollectiveKind kind, int root, object? contribution, Deadline deadline, TimeSpan timeout)
    {
        lock (gate)
        {
            ArriveLocked(rank, kind, root, contribution, deadline, timeout);
        }
    }

    /// <summary>Fails the pending round if its earliest deadline has passed; otherwise re-announces the deadline.</summary>
    public void ExpireOverdue()
    {
        lock (gate)
        {
            if (current is not { IsComplete: false, Failure: null } round)
            {
                return;
            }
            if (round.Deadline.HasPassed)
            {
                FailLocked(CollectiveFailure.TimedOut(round.Kind.ToString(), round.MissingRanks(), round.DeadlineTimeout, round.Context));
            }
            else
            {
                deadlineChanged?.Invoke(round.Deadline);
            }
        }
    }

    /// <summary>
    /// Records that <paramref name="rank"/> will call no more collectives. A pending round it has not joined fails
    /// at once, and so does every later round, with <paramref name="reason"/> (a sentence naming the rank).
    /// </summary>
    public void Leave(int rank, string reason)
    {
        lock (gate)
        {
            if (departures[rank] is not null)
            {
                return;
            }
            departures[rank] = reason;
            if (current is { IsComplete: false, Failure: null } round && !round.HasArrived(rank))
            {
                FailLocked(CollectiveFailure.Broken(round.Kind.ToString(), $"{Name(round)} cannot complete: {reason}"));
            }
        }
    }

    /// <summary>Fails the group (a bad configuration or protocol error found by the owner).</summary>
    public void Abort(CollectiveFailure reason)
    {
        lock (gate)
        {
            FailLocked(reason);
        }
    }

    private CollectiveRound? ArriveLocked(int rank, CollectiveKind kind, int root, object? contribution, Deadline deadline, TimeSpan timeout)
    {
        long sequence = nextSequence[rank]++;
        if (failure is not null)
        {
            return null;
        }
        if (current is { IsComplete: false } && sequence > current.Sequence)
        {
            FailLocked(CollectiveFailure.Broken(kind.ToString(),
                $"Rank {rank} started collective #{sequence} before collective #{current.Sequence} completed (protocol error)."));
            return null;
        }
        if (current is null || sequence > current.Sequence)
        {
            // Every rank left the previous round, so it is complete and nobody writes to it any more.
            current = new CollectiveRound(sequence, kind, root, Size, deadline, timeout);
            if (Array.FindIndex(departures, reason => reason is not null) is var departed and >= 0)
            {
                FailLocked(CollectiveFailure.Broken(kind.ToString(), $"{Name(current)} cannot run: {departures[departed]}"));
                return null;
            }
        }
        var round = current;
        if (round.Kind != kind || round.Root != root)
        {
            int first = Enumerable.Range(0, Size).First(round.HasArrived);
            FailLocked(CollectiveFailure.Broken(kind.ToString(),
                $"Collective mismatch at collective #{sequence}: rank {first} called {CollectiveRound.Describe(round.Kind, round.Root)} " +
                $"but rank {rank} called {CollectiveRound.Describe(kind, root)}. Every rank must call the same collectives in the same order."));
            return null;
        }
        round.Add(rank, contribution, deadline, timeout);
        if (round.IsComplete)
        {
            Monitor.PulseAll(gate);
            completed?.Invoke(round);
        }
        else
        {
            deadlineChanged?.Invoke(round.Deadline);
        }
        return round;
    }

    private void FailLocked(CollectiveFailure reason)
    {
        if (failure is not null)
        {
            return;
        }
        failure = reason;
        if (current is { IsComplete: false } round)
        {
            round.Failure = reason;
        }
        Monitor.PulseAll(gate);
        failed?.Invoke(reason);
    }

    private static string Name(CollectiveRound round) =>
        round.Kind == CollectiveKind.Rendezvous ? "The rendezvous" : $"{round.Kind} (collective #{round.Sequence})";
}
