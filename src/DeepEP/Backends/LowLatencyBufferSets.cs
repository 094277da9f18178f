namespace DeepEP.Backends;

/// <summary>
/// Which of the two low-latency buffer sets (spec §5.2) the next call uses, and which set still holds a receive
/// whose hook has not run, so that a third outstanding operation fails instead of overwriting it.
/// </summary>
internal class LowLatencyBufferSets
{
    private const int NumSets = 2;

    private readonly object?[] _pendingReceives = new object?[NumSets];

    /// <summary>The set the next low-latency call uses (DeepEP's <c>low_latency_buffer_idx</c>).</summary>
    public int CurrentSet { get; private set; }

    /// <summary>Claims the current set for one operation and flips the index, as every low-latency call does.</summary>
    public int Acquire(string operation)
    {
        int set = CurrentSet;
        if (_pendingReceives[set] is not null)
        {
            throw new InvalidOperationException(
                $"{operation} needs low-latency buffer set {set}, whose earlier receive hook has not been called: at most two " +
                "low-latency operations may be outstanding. Call the pending hook first.");
        }
        CurrentSet ^= 1;
        return set;
    }

    /// <summary>Wraps the receive step of an operation on <paramref name="set"/> into a hook that runs once, and marks the set busy.</summary>
    public Action DeferReceive(int set, Action receive)
    {
        var token = new object();
        _pendingReceives[set] = token;
        return () =>
        {
            if (!ReferenceEquals(_pendingReceives[set], token))
            {
                throw new InvalidOperationException("This receive hook already ran or was discarded by CleanLowLatencyBuffer; a hook runs once.");
            }
            _pendingReceives[set] = null;
            receive();
        };
    }

    /// <summary>CleanLowLatencyBuffer zeroes both signalling areas, so in-flight receives are lost.</summary>
    public void DiscardPendingReceives() => Array.Clear(_pendingReceives);
}
