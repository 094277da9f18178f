using DeepEP.Distributed;

namespace DeepEP.Backends.Nccl;

/// <summary>
/// The contiguous row blocks a normal-mode exchange moves. Dispatch sends this rank's staging block for rank d
/// (<see cref="SendRows"/>[d] rows) and receives source s's rows into the outputs (<see cref="RecvRows"/>[s] rows,
/// spec §2.3 order); combine moves the same blocks backwards.
/// </summary>
internal sealed class NcclBlocks
{
    private readonly long[] _sendOffsets;
    private readonly long[] _recvOffsets;

    public NcclBlocks(long[] sendRows, long[] recvRows)
    {
        SendRows = sendRows;
        RecvRows = recvRows;
        _sendOffsets = ExclusivePrefix(sendRows);
        _recvOffsets = ExclusivePrefix(recvRows);
    }

    /// <summary>Rows this rank sends to each destination in dispatch (its tokens selected for that rank).</summary>
    public long[] SendRows { get; }

    /// <summary>Rows this rank receives from each source in dispatch.</summary>
    public long[] RecvRows { get; }

    /// <summary>Rows of the staging buffer: everything sent, over all destinations.</summary>
    public long TotalSendRows => SendRows.Sum();

    /// <summary>The real rows of the dispatch outputs, M.</summary>
    public long TotalRecvRows => RecvRows.Sum();

    /// <summary>The blocks of a dispatch handle (spec §2.5): the rank prefix matrix's column for this rank, the channel prefix matrix's last column.</summary>
    public static NcclBlocks FromHandle(int[] rankPrefixMatrix, int[] channelPrefixMatrix, int numRanks, int numChannels, int rank)
    {
        var send = new long[numRanks];
        var recv = new long[numRanks];
        for (int peer = 0; peer < numRanks; peer++)
        {
            send[peer] = channelPrefixMatrix[(peer * numChannels) + numChannels - 1];
            recv[peer] = rankPrefixMatrix[(peer * numRanks) + rank] - (peer == 0 ? 0 : rankPrefixMatrix[((peer - 1) * numRanks) + rank]);
        }
        return new NcclBlocks(send, recv);
    }

    /// <summary>Dispatch direction for one tensor of <paramref name="rowBytes"/>-byte rows: staging block to each peer, each peer's rows into the output.</summary>
    public void AddForward(List<NcclTransfer> transfers, int peer, nint staged, nint output, long rowBytes)
    {
        transfers.Add(NcclTransfer.Send(peer, staged + (nint)(_sendOffsets[peer] * rowBytes), SendRows[peer] * rowBytes));
        transfers.Add(NcclTransfer.Receive(peer, output + (nint)(_recvOffsets[peer] * rowBytes), RecvRows[peer] * rowBytes));
    }

    /// <summary>Combine direction: each peer's block of the combine input back to it, this rank's rows back into the staging layout.</summary>
    public void AddBackward(List<NcclTransfer> transfers, int peer, nint input, nint staged, long rowBytes)
    {
        transfers.Add(NcclTransfer.Send(peer, input + (nint)(_recvOffsets[peer] * rowBytes), RecvRows[peer] * rowBytes));
        transfers.Add(NcclTransfer.Receive(peer, staged + (nint)(_sendOffsets[peer] * rowBytes), SendRows[peer] * rowBytes));
    }

    private static long[] ExclusivePrefix(long[] counts)
    {
        var offsets = new long[counts.Length];
        for (int i = 1; i < counts.Length; i++)
        {
            offsets[i] = offsets[i - 1] + counts[i - 1];
        }
        return offsets;
    }
}
