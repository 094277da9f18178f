using DeepEP.Distributed;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// A rank's process group that throws inside the first collective after <see cref="Arm"/> (a rank failing mid-call) and
/// counts the collectives that reached it (so a test can tell whether a call communicated before it threw). Shrink
/// collectives go to the inner group, which must have them when a buffer in shrink mode uses them.
/// </summary>
internal sealed class FaultyGroup(ProcessGroup inner) : ProcessGroup, IShrinkingGroup
{
    private bool _armed;

    public int Collectives { get; private set; }

    public override int Rank => inner.Rank;

    public override int Size => inner.Size;

    public override int LocalRank => inner.LocalRank;

    public override int LocalSize => inner.LocalSize;

    public void Arm() => _armed = true;

    public override byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null)
    {
        Trip();
        return inner.AllGather(payload, timeout);
    }

    public override byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null)
    {
        Trip();
        return inner.AllToAll(payloads, timeout);
    }

    public override byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null)
    {
        Trip();
        return inner.Broadcast(payload, root, timeout);
    }

    public override void Barrier(TimeSpan? timeout = null)
    {
        Trip();
        inner.Barrier(timeout);
    }

    public byte[]?[] AllToAllLeavingOutLateRanks(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null)
    {
        Trip();
        return ((IShrinkingGroup)inner).AllToAllLeavingOutLateRanks(payloads, timeout);
    }

    public void Readmit(TimeSpan? timeout = null)
    {
        Trip();
        ((IShrinkingGroup)inner).Readmit(timeout);
    }

    protected override void Dispose(bool disposing) => inner.Dispose();

    private void Trip()
    {
        Collectives++;
        if (_armed)
        {
            throw new InjectedFaultException($"Injected fault on rank {Rank}.");
        }
    }
}

/// <summary>The exception a <see cref="FaultyGroup"/> throws.</summary>
internal sealed class InjectedFaultException(string message) : Exception(message);
