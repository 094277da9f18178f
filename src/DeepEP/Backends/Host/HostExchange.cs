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

    public HostExchange(ProcessGroup group, TimeSpan timeout)
    {
        _group = group;
        _timeout = timeout;
    }

    public int Rank => _group.Rank;

    public int Size => _group.Size;

    public byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads) => _group.AllToAll(payloads, _timeout);

    public byte[][] AllGather(ReadOnlyMemory<byte> payload) => _group.AllGather(payload, _timeout);

    public void Barrier() => _group.Barrier(_timeout);

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
