namespace DeepEP.Distributed;

/// <summary>
/// One collective in progress: the kind the first rank called, each rank's contribution and the earliest deadline
/// among the ranks that arrived. Mutated only under the <see cref="CollectiveRendezvous"/> lock.
/// </summary>
internal sealed class CollectiveRound
{
    private readonly bool[] arrived;

    public CollectiveRound(long sequence, CollectiveKind kind, int root, int size, Deadline deadline, TimeSpan timeout)
    {
        Sequence = sequence;
        Kind = kind;
        Root = root;
        arrived = new bool[size];
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

    public bool IsComplete => ArrivedCount == arrived.Length;

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

    public int[] MissingRanks() => [.. Enumerable.Range(0, arrived.Length).Where(rank => !arrived[rank])];

    public static string Describe(CollectiveKind kind, int root) =>
        kind == CollectiveKind.Broadcast ? $"Broadcast(root {root})" : kind.ToString();
}
