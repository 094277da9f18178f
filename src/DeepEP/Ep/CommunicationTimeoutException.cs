namespace DeepEP.Ep;

/// <summary>
/// A wait on the GPU or the host passed its deadline (<c>DEEPEP_TIMEOUT_S</c>, default 100 s): a peer did not
/// arrive, or a count never came. The message names the rank, the peer, the channel and the values expected vs seen.
/// The communication buffer is unusable afterwards; dispose it.
/// </summary>
public sealed class CommunicationTimeoutException : Exception
{
    /// <summary>Creates the exception with what was waited for.</summary>
    public CommunicationTimeoutException(string operation, int rank, int peerRank, int channel, long expected, long seen, TimeSpan waited)
        : this(operation, rank, peerRank, channel, expected, seen, waited, detail: null)
    {
    }

    /// <summary>As above, with <paramref name="detail"/> (the waiting rank's own state) appended to the message.</summary>
    internal CommunicationTimeoutException(string operation, int rank, int peerRank, int channel, long expected, long seen, TimeSpan waited, string? detail)
        : base($"DeepEP {operation} timed out on rank {rank} after {waited.TotalSeconds:F1} s waiting for "
            + (peerRank >= 0 ? $"rank {peerRank}" : "the device")
            + (channel >= 0 ? $" (channel/slot {channel})" : "")
            + $": expected {expected}, saw {seen}. A peer may have died, or the ranks issued different operations."
            + (detail is null ? "" : $" {detail}"))
    {
        Operation = operation;
        Rank = rank;
        PeerRank = peerRank;
        Channel = channel;
        Expected = expected;
        Seen = seen;
        Waited = waited;
        MissingRanks = peerRank >= 0 ? [peerRank] : [];
    }

    // RS0027 (PublicApiAnalyzers): the optional innerException predates the API baseline, which records the public
    // surface as it is; changing this overload set is a breaking change for a later release.
#pragma warning disable RS0027
    /// <summary>A host-side exchange passed its deadline before <paramref name="missingRanks"/> joined it.</summary>
    /// <param name="operation">The step, e.g. "dispatch (row exchange)".</param>
    /// <param name="rank">The rank that gave up.</param>
    /// <param name="missingRanks">The ranks that never joined, ascending (at least one).</param>
    /// <param name="waited">The deadline that passed.</param>
    /// <param name="innerException">The process group's timeout.</param>
    public CommunicationTimeoutException(string operation, int rank, IReadOnlyList<int> missingRanks, TimeSpan waited, Exception? innerException = null)
        : base($"DeepEP {operation} timed out on rank {rank} after {waited.TotalSeconds:F1} s waiting for "
            + $"{(missingRanks?.Count == 1 ? "rank" : "ranks")} {string.Join(", ", missingRanks ?? [])}, "
            + "which never joined the exchange. A peer may have died or stalled, or the ranks issued different operations.", innerException)
    {
        ArgumentNullException.ThrowIfNull(missingRanks);
        Operation = operation;
        Rank = rank;
        PeerRank = missingRanks.Count > 0 ? missingRanks[0] : -1;
        Channel = -1;
        Waited = waited;
        MissingRanks = missingRanks;
    }
#pragma warning restore RS0027

    /// <summary>An NCCL communicator's wait for <paramref name="step"/> passed its deadline (the communicator was aborted).</summary>
    internal static CommunicationTimeoutException ForNccl(string step, int rank, TimeSpan waited) =>
        new($"NCCL {step}", rank, -1, -1, 0, 0, waited);

    /// <summary>What was waited for (e.g. "dispatch receive count", or for a kernel's wait the call that found it and the wait: "combine (barrier)").</summary>
    public string Operation { get; }

    /// <summary>The rank that gave up.</summary>
    public int Rank { get; }

    /// <summary>The rank it waited for, or -1.</summary>
    public int PeerRank { get; }

    /// <summary>Channel, expert or slot index, or -1.</summary>
    public int Channel { get; }

    /// <summary>The value waited for.</summary>
    public long Expected { get; }

    /// <summary>The value last seen.</summary>
    public long Seen { get; }

    /// <summary>How long it waited.</summary>
    public TimeSpan Waited { get; }

    /// <summary>Every rank it waited for in vain (<see cref="PeerRank"/> first); empty when the device itself was waited for.</summary>
    public IReadOnlyList<int> MissingRanks { get; }
}
