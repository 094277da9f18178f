using DeepEP.Distributed;

namespace DeepEP.Tests.Host.Support;

/// <summary>
/// Minimal in-process ranks (one thread each) until <c>ProcessGroup.CreateInProcess</c> lands. Every
/// collective is a two-phase rendezvous: publish into this rank's slot, wait, read, wait again so no slot is
/// overwritten before everyone has read it. <see cref="Abort"/> releases ranks blocked on a failed peer.
/// </summary>
internal sealed class TestProcessGroup : ProcessGroup
{
    private readonly Rendezvous _rendezvous;

    private TestProcessGroup(Rendezvous rendezvous, int rank)
    {
        _rendezvous = rendezvous;
        Rank = rank;
        DefaultTimeout = TimeSpan.FromSeconds(30);
    }

    public override int Rank { get; }

    public override int Size => _rendezvous.Slots.Length;

    public override int LocalRank => Rank;

    public override int LocalSize => Size;

    public static TestProcessGroup[] Create(int size)
    {
        var rendezvous = new Rendezvous(size);
        return [.. Enumerable.Range(0, size).Select(rank => new TestProcessGroup(rendezvous, rank))];
    }

    /// <summary>Makes every rank blocked in (or later entering) a collective throw <see cref="OperationCanceledException"/>.</summary>
    public void Abort() => _rendezvous.Cancellation.Cancel();

    public override byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null) =>
        Exchange<byte[][]>(payload.ToArray(), timeout, slots => [.. slots.Select(slot => (byte[])slot!)]);

    public override byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null)
    {
        if (payloads.Count != Size)
        {
            throw new ArgumentException($"AllToAll needs one payload per rank ({Size}), got {payloads.Count}.", nameof(payloads));
        }
        return Exchange<byte[][]>(payloads.Select(p => p.ToArray()).ToArray(), timeout, slots => [.. slots.Select(slot => ((byte[][])slot!)[Rank])]);
    }

    public override byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null) =>
        Exchange(payload.ToArray(), timeout, slots => (byte[])slots[root]!);

    public override void Barrier(TimeSpan? timeout = null) => Exchange(0, timeout, _ => 0);

    private T Exchange<T>(object contribution, TimeSpan? timeout, Func<object?[], T> read)
    {
        _rendezvous.Slots[Rank] = contribution;
        Wait(timeout);
        T result = read(_rendezvous.Slots);
        Wait(timeout);
        return result;
    }

    private void Wait(TimeSpan? timeout)
    {
        if (!_rendezvous.Barrier.SignalAndWait(timeout ?? DefaultTimeout, _rendezvous.Cancellation.Token))
        {
            throw new TimeoutException($"Rank {Rank}: not every rank reached the collective within {timeout ?? DefaultTimeout}.");
        }
    }

    private sealed class Rendezvous(int size)
    {
        public Barrier Barrier { get; } = new(size);

        public object?[] Slots { get; } = new object?[size];

        public CancellationTokenSource Cancellation { get; } = new();
    }
}
