using DeepEP.Backends.Nccl;
using DeepEP.Distributed;

namespace DeepEP.Tests.Backends.Nccl;

/// <summary>The host side of the NCCL backend's count exchange: the handle's matrices, the blocks, and the checks every rank makes.</summary>
public sealed class NcclCountExchangeTests
{
    // Two ranks, four experts (two per rank), two channels. Rank 0 sends 3 tokens to rank 0 and 2 to rank 1; rank 1 sends 1 and 4.
    private static int[] Gathered(int rank0TokensForRank1 = 2) =>
    [
        // rank 0: per rank | per expert | channel counts [R, C]
        3, rank0TokensForRank1, 2, 2, 1, 1, 1, 2, 2, 0,
        // rank 1
        1, 4, 1, 0, 3, 2, 0, 1, 1, 3,
    ];

    [Fact]
    public void MatricesFollowTheSpec()
    {
        var counts = NcclDispatchCounts.Parse(Gathered(), numRanks: 2, numExperts: 4, numChannels: 2, rank: 1);

        Assert.Equal([3, 2, 4, 6], counts.RankPrefixMatrix);
        Assert.Equal([0, 1, 1, 4], counts.ChannelPrefixMatrix);
        Assert.Equal([0, 2, 0, 1], counts.RecvChannelPrefixMatrix);
        Assert.Equal([4, 3], counts.RecvTokensPerLocalExpert);
        Assert.Equal([1L, 4L], counts.Blocks.SendRows);
        Assert.Equal([2L, 4L], counts.Blocks.RecvRows);
        Assert.Equal(6, counts.ReceivedRows(2, 1));
        Assert.Equal(4, counts.ReceivedRows(2, 0));
    }

    [Fact]
    public void InconsistentCountsNameTheRank()
    {
        var e = Assert.Throws<InvalidOperationException>(() => NcclDispatchCounts.Parse(Gathered(rank0TokensForRank1: 5), 2, 4, 2, rank: 1));
        Assert.Contains("rank(s) 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BlocksPairSendsAndReceivesInBothDirections()
    {
        var blocks = new NcclBlocks([1, 4], [2, 4]);
        var forward = new List<NcclTransfer>();
        var backward = new List<NcclTransfer>();
        blocks.AddForward(forward, peer: 1, staged: 1000, output: 5000, rowBytes: 10);
        blocks.AddBackward(backward, peer: 1, input: 5000, staged: 1000, rowBytes: 10);

        Assert.Equal([NcclTransfer.Send(1, 1010, 40), NcclTransfer.Receive(1, 5020, 40)], forward);
        Assert.Equal([NcclTransfer.Send(1, 5020, 40), NcclTransfer.Receive(1, 1010, 40)], backward);
        Assert.Equal(5, blocks.TotalSendRows);
        Assert.Equal(6, blocks.TotalRecvRows);
    }
}
