using DeepEP.Distributed;

namespace DeepEP.Tests.Distributed;

/// <summary>
/// A long mixed sequence of collectives whose payloads every rank can predict (they depend only on source,
/// destination and step), so each rank checks every result it receives.
/// </summary>
internal static class CollectiveSequence
{
    public static byte[] Payload(int source, int destination, int step)
    {
        // destination is -1 or -2 for the payloads of all-gather and broadcast.
        var payload = new byte[(source * 7 + (destination + 2) * 3 + step) % 41];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(source * 31 + destination * 17 + step + i);
        }
        return payload;
    }

    /// <summary>Runs <paramref name="steps"/> collectives on <paramref name="group"/>; returns how many results it checked.</summary>
    public static int Run(ProcessGroup group, int steps)
    {
        int rank = group.Rank, size = group.Size, checkedResults = 0;
        for (int step = 0; step < steps; step++)
        {
            switch (step % 4)
            {
                case 0:
                    var gathered = group.AllGather(Payload(rank, -1, step));
                    for (int source = 0; source < size; source++)
                    {
                        Assert.Equal(Payload(source, -1, step), gathered[source]);
                    }
                    break;
                case 1:
                    var received = group.AllToAll([.. Enumerable.Range(0, size).Select(destination => (ReadOnlyMemory<byte>)Payload(rank, destination, step))]);
                    for (int source = 0; source < size; source++)
                    {
                        Assert.Equal(Payload(source, rank, step), received[source]);
                    }
                    break;
                case 2:
                    int root = step / 4 % size;
                    Assert.Equal(Payload(root, -2, step), group.Broadcast(rank == root ? Payload(root, -2, step) : [], root));
                    break;
                default:
                    group.Barrier();
                    break;
            }
            checkedResults++;
        }
        return checkedResults;
    }
}
