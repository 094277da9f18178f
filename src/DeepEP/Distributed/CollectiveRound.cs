namespace DeepEP.Distributed;

/// <summary>
/// One collective in progress: the kind the first rank called, each rank's contribution and the earliest deadline
/// among the ranks that arrived. Mutated only under the <see cref="CollectiveRendezvous"/> lock.
/// </summary>
internal sealed class CollectiveRound
{
    private readonly bool[] arrived;
    private readonly bool[] leftOut;

    public CollectiveRound(long sequence, CollectiveKind kind, int root, int size, Deadline deadline, TimeSpan timeout)
    {
        Sequence = sequence;
        Kind = kind;
        Root = root;
        arrived = new bool[size];
        leftOut = new bool[size];
        Contributions = new object?[size];
        Deadline = deadline;
        DeadlineTimeout = timeout;
    }

    /// <summary>Position of this collective in the group's sequence, counted by every rank alike.</summary>
    public long Sequence { get; }

    public CollectiveKind Kind { get; }

    /// <summary>Root rank of a broadcast; -1 otherwise.</summary>
    public int Root { get; }

    /// <summary>Each rank's contribution (its meaning depends on <see cref="Kind"/>), indexed by rank.</summary>
    public object?[] Contributions { get; }

    public int ArrivedCount { get; private set; }

    /// <summary>How many ranks this round does not wait for (shrink mode): excluded before it, or late for it.</summary>
    public int LeftOutCount { get; private set; }

    public bool IsComplete => ArrivedCount + LeftOutCount == arrived.Length;

    /// <summary>Earliest deadline of the ranks that arrived: the round fails then if it is still incomplete.</summary>
    public Deadline Deadline { get; private set; }

    /// <summary>The timeout that set <see cref="Deadline"/>, for the message.</summary>
    public TimeSpan DeadlineTimeout { get; private set; }

    /// <summary>Set when the group failed while this round was incomplete.</summary>
    public CollectiveFailure? Failure { get; set; }

    /// <summary>Where this round sits, for messages: <c>collective #5, root 1</c>.</summary>
    public string Context => Kind switch
    {
        CollectiveKind.Rendezvous => "every rank connects to rank 0 at MASTER_ADDR:MASTER_PORT with the same WORLD_SIZE",
        CollectiveKind.Broadcast => $"collective #{Sequence}, root {Root}",
        _ => $"collective #{Sequence}",
    };

    public bool HasArrived(int rank) => arrived[rank];

    /// <summary>Whether this round does not wait for <paramref name="rank"/>.</summary>
    public bool IsLeftOut(int rank) => leftOut[rank];

    /// <summary>Stops waiting for <paramref name="rank"/>, which has not arrived; its contribution stays null.</summary>
    public void LeaveOut(int rank)
    {
        leftOut[rank] = true;
        LeftOutCount++;
    }

    public void Add(int rank, object? contribution, Deadline deadline, TimeSpan timeout)
    {
        arrived[rank] = true;
        Contributions[rank] = contribution;
        ArrivedCount++;
        if (deadline.IsBefore(Deadline))
        {
            Deadline = deadline;
            DeadlineTimeout = timeout;
        }
    }

    /// <summary>The ranks the round still waits for.</summary>
    public int[] MissingRanks() => [.. Enumerable.Range(0, arrived.Length).Where(rank => !arrived[rank] && !leftOut[rank])];

    public static string Describe(CollectiveKind kind, int root) =>
        kind == CollectiveKind.Broadcast ? $"Broadcast(root {root})" : kind.ToString();
}
