namespace DeepEP.Distributed;

/// <summary>
/// Matches the ranks' calls into rounds, one collective after another: the state every rank of an in-process group
/// shares, and the state rank 0's TCP relay keeps for all ranks. The n-th call of every rank joins round n; a rank
/// can only be one round ahead of another, so one current round suffices and earlier rounds stay readable by the
/// ranks still collecting their results.
/// </summary>
/// <remarks>
/// <para>Shrink mode (<see cref="CollectiveKind.ShrinkingAllToAll"/>): when such a round's deadline passes, the ranks
/// that did not arrive are left out of it (it completes without them) and of every later shrinking round; other
/// collectives are refused while a rank is left out, and a left-out rank's own calls throw
/// <see cref="RankLeftOutException"/>, until a <see cref="CollectiveKind.Readmit"/> round of every rank readmits it.</para>
/// <para>The first failure (a timeout, a mismatched collective, a rank leaving mid-collective, a bad configuration) breaks
/// the group for good: nobody can tell which late arrival belongs to which round any more.</para>
/// </remarks>
internal sealed class CollectiveRendezvous
{
    // A plain object, not System.Threading.Lock: blocking joiners use Monitor.Wait on it.
    private readonly object gate = new();
    private readonly long[] nextSequence;
    private readonly string?[] departures;
    private readonly long?[] leftOutAt;
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
        leftOutAt = new long?[size];
        this.completed = completed;
        this.failed = failed;
        this.deadlineChanged = deadlineChanged;
    }

    public int Size { get; }

    /// <summary>
    /// Contributes to this rank's next round and blocks until every rank has arrived; returns the completed round.
    /// Throws the group's failure if it fails first, or <see cref="ProcessGroupTimeoutException"/> naming the
    /// missing ranks once <paramref name="timeout"/> passes (a shrinking round completes without them instead).
    /// </summary>
    /// <exception cref="RankLeftOutException">This rank was left out of a shrinking round and is not readmitted yet.</exception>
    /// <exception cref="InvalidOperationException">A collective other than a shrinking one or a readmission while a rank is left out.</exception>
    public CollectiveRound Join(int rank, CollectiveKind kind, int root, object? contribution, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        lock (gate)
        {
            if (failure is null)
            {
                RefuseWhileLeftOutLocked(rank, kind, root);
                if (leftOutAt[rank] is not null)
                {
                    AwaitReadmissionLocked(rank, deadline, timeout);
                }
            }
            var round = ArriveLocked(rank, kind, root, contribution, deadline, timeout);
            while (round is not null && !round.IsComplete && round.Failure is null)
            {
                if (deadline.HasPassed)
                {
                    ExpireLocked(round, timeout);
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
                ExpireLocked(round, round.DeadlineTimeout);
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
            if (current is { IsComplete: false, Failure: null } round && !round.HasArrived(rank) && !round.IsLeftOut(rank))
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
            var created = new CollectiveRound(sequence, kind, root, Size, deadline, timeout);
            current = created;
            Monitor.PulseAll(gate); // a left-out rank waits for a readmission round to open
            if (kind == CollectiveKind.ShrinkingAllToAll)
            {
                foreach (int excluded in Enumerable.Range(0, Size).Where(r => leftOutAt[r] is not null))
                {
                    created.LeaveOut(excluded);
                }
            }
            if (Enumerable.Range(0, Size).FirstOrDefault(r => departures[r] is not null && !created.IsLeftOut(r), -1) is var departed and >= 0)
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
            CompleteLocked(round);
        }
        else
        {
            deadlineChanged?.Invoke(round.Deadline);
        }
        return round;
    }

    private void CompleteLocked(CollectiveRound round)
    {
        if (round.Kind == CollectiveKind.Readmit)
        {
            Array.Clear(leftOutAt);
        }
        Monitor.PulseAll(gate);
        completed?.Invoke(round);
    }

    /// <summary>The round's deadline passed: a shrinking round completes without the missing ranks and leaves them out; any other fails the group.</summary>
    private void ExpireLocked(CollectiveRound round, TimeSpan timeout)
    {
        if (round.Kind != CollectiveKind.ShrinkingAllToAll)
        {
            FailLocked(CollectiveFailure.TimedOut(round.Kind.ToString(), round.MissingRanks(), timeout, round.Context));
            return;
        }
        foreach (int late in round.MissingRanks())
        {
            leftOutAt[late] = round.Sequence;
            round.LeaveOut(late);
        }
        CompleteLocked(round);
    }

    /// <summary>
    /// A left-out rank may only ask to be readmitted; while any rank is left out, only shrinking rounds and the
    /// readmission run. Both refusals take no sequence number, so the caller's group stays usable.
    /// </summary>
    private void RefuseWhileLeftOutLocked(int rank, CollectiveKind kind, int root)
    {
        if (leftOutAt[rank] is { } excludedAt && kind != CollectiveKind.Readmit)
        {
            throw new RankLeftOutException(
                $"Rank {rank} was left out of collective #{excludedAt} (a shrink-mode all-to-all): the other ranks reached its deadline " +
                $"without rank {rank}, masked it and went on. Its {CollectiveRound.Describe(kind, root)} cannot join them any more; " +
                "call LowLatencyCleanMaskBuffer on every rank (a collective that readmits it) first.");
        }
        int[] excluded = [.. Enumerable.Range(0, Size).Where(r => leftOutAt[r] is not null)];
        if (excluded.Length > 0 && kind is not (CollectiveKind.ShrinkingAllToAll or CollectiveKind.Readmit))
        {
            throw new InvalidOperationException(
                $"{CollectiveRound.Describe(kind, root)} needs every rank, but rank(s) {string.Join(", ", excluded)} were left out of a shrink-mode " +
                $"all-to-all (collective #{leftOutAt[excluded[0]]}) and are not readmitted: call LowLatencyCleanMaskBuffer on every rank first.");
        }
    }

    /// <summary>
    /// Places a left-out rank that asks to be readmitted in the readmission round, once another rank has opened it;
    /// throws a timeout naming the others if none does in time (the group stays as it is).
    /// </summary>
    private void AwaitReadmissionLocked(int rank, Deadline deadline, TimeSpan timeout)
    {
        while (failure is null)
        {
            if (current is { IsComplete: false, Kind: CollectiveKind.Readmit } round)
            {
                nextSequence[rank] = round.Sequence;
                return;
            }
            if (deadline.HasPassed)
            {
                int[] others = [.. Enumerable.Range(0, Size).Where(r => leftOutAt[r] is null)];
                throw CollectiveFailure.TimedOut(nameof(CollectiveKind.Readmit), others, timeout,
                    $"rank {rank}, left out in shrink mode, waited for the other ranks to call LowLatencyCleanMaskBuffer too").ToException();
            }
            Monitor.Wait(gate, deadline.RemainingMilliseconds);
        }
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
