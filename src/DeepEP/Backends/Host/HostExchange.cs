using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Backends.Host;

/// <summary>
/// The host backend's view of its process group: every collective runs under the buffer's deadline (one source:
/// <see cref="EpBufferOptions.Timeout"/>, else <c>DEEPEP_TIMEOUT_S</c>, else 100 s), and a failure names this rank
/// and the step it happened in, not just the collective.
/// </summary>
internal sealed class HostExchange
{
    private readonly ProcessGroup _group;
    private readonly TimeSpan _timeout;
    private readonly IShrinkingGroup? _shrinking;

    /// <param name="group">The expert-parallel group.</param>
    /// <param name="timeout">Deadline of every collective.</param>
    /// <param name="shrink">Low-latency shrink mode: low-latency exchanges leave out and mask a rank that misses the deadline.</param>
    /// <exception cref="NotSupportedException"><paramref name="shrink"/> with a group that cannot leave a rank out (a TCP group).</exception>
    public HostExchange(ProcessGroup group, TimeSpan timeout, bool shrink)
    {
        _group = group;
        _timeout = timeout;
        if (shrink)
        {
            _shrinking = group as IShrinkingGroup ?? throw new NotSupportedException(
                "EpBufferOptions.EnableShrink on the host backend needs an in-process group (ProcessGroup.CreateInProcess): over TCP, rank 0's " +
                "relay cannot yet complete a collective without a stalled rank, so that rank could not be masked (docs/reliability.md). " +
                "Create the buffer without EnableShrink, or use the kernels or NCCL backend.");
        }
    }

    public int Rank => _group.Rank;

    public int Size => _group.Size;

    public byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads) => _group.AllToAll(payloads, _timeout);

    public byte[][] AllGather(ReadOnlyMemory<byte> payload) => _group.AllGather(payload, _timeout);

    public void Barrier() => _group.Barrier(_timeout);

    /// <summary>
    /// The exchange of a low-latency operation. In shrink mode a rank that misses the deadline is left out and masked
    /// (later exchanges neither wait for it nor deliver to it); in any mode a peer that has masked this rank gets masked.
    /// </summary>
    /// <returns>What each rank sent, indexed by source rank; null for a rank left out.</returns>
    public byte[]?[] LowLatencyAllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, bool[] maskedRanks)
    {
        byte[]?[] received = _shrinking?.AllToAllLeavingOutLateRanks(payloads, _timeout) ?? _group.AllToAll(payloads, _timeout);
        HostPeerLiveness.MaskSilentPeers(received, maskedRanks);
        return received;
    }

    /// <summary>Shrink mode: a collective of every rank that readmits the ranks left out.</summary>
    public void Readmit() => _shrinking!.Readmit(_timeout);

    /// <summary>
    /// Runs one public operation: a peer that never joined becomes a <see cref="CommunicationTimeoutException"/> naming it
    /// and <paramref name="step"/>; any other group failure or disagreement between ranks gets the step and this rank prepended.
    /// </summary>
    public T Step<T>(string step, Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (ProcessGroupTimeoutException e) when (e.MissingRanks.Count > 0)
        {
            throw new CommunicationTimeoutException(step, Rank, e.MissingRanks, e.Timeout, e);
        }
        catch (ProcessGroupException e)
        {
            throw new ProcessGroupException($"DeepEP {step} failed on rank {Rank}: {e.Message}", e);
        }
        catch (InvalidOperationException e) when (e is not ObjectDisposedException)
        {
            throw new InvalidOperationException($"DeepEP {step} failed on rank {Rank}: {e.Message}", e);
        }
    }

    /// <inheritdoc cref="Step{T}(string, Func{T})"/>
    public void Step(string step, Action operation) => Step(step, () =>
    {
        operation();
        return 0;
    });
}
