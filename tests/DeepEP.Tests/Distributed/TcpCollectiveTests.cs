using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

public sealed class TcpCollectiveTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void CollectivesDeliverWhatEveryRankSent(int size)
    {
        var random = new Random(size);
        byte[][] gathered = [.. Enumerable.Range(0, size).Select(_ => RandomBytes(random, 1000))];
        byte[][][] toEach = [.. Enumerable.Range(0, size).Select(_ => Enumerable.Range(0, size).Select(_ => RandomBytes(random, 1000)).ToArray())];
        byte[] broadcast = RandomBytes(random, 1000);
        int root = size - 1;

        var results = LoopbackRanks.RunAll(size, group =>
        {
            var allGather = group.AllGather(gathered[group.Rank]);
            var allToAll = group.AllToAll([.. toEach[group.Rank].Select(payload => (ReadOnlyMemory<byte>)payload)]);
            var fromRoot = group.Broadcast(group.Rank == root ? broadcast : [], root);
            group.Barrier();
            return (group.Rank, allGather, allToAll, fromRoot);
        });

        foreach (var (rank, allGather, allToAll, fromRoot) in results)
        {
            Assert.Equal(gathered, allGather);
            Assert.Equal(Enumerable.Range(0, size).Select(source => toEach[source][rank]), allToAll);
            Assert.Equal(broadcast, fromRoot);
        }
    }

    [Fact]
    public void ManySuccessiveCollectivesStayInStep()
    {
        var checkedResults = LoopbackRanks.RunAll(4, group => CollectiveSequence.Run(group, steps: 200));
        Assert.All(checkedResults, count => Assert.Equal(200, count));
    }

    [Fact]
    public void LargePayloadsArriveIntact()
    {
        const int size = 64 << 20;
        var results = LoopbackRanks.RunAll(2, group =>
        {
            byte[] mine = new byte[size];
            new Random(group.Rank).NextBytes(mine);
            var others = group.AllToAll([mine, mine]);
            return (mine, others);
        });
        for (int rank = 0; rank < 2; rank++)
        {
            for (int source = 0; source < 2; source++)
            {
                Assert.True(results[source].mine.AsSpan().SequenceEqual(results[rank].others[source]), $"rank {rank} from {source}");
            }
        }
    }

    [Fact]
    public void RanksReportTheirPlaceFromTheEnvironment()
    {
        int port = LoopbackRanks.FreePort();
        var places = RankThreads.RunAll(2, rank =>
        {
            var environment = new DistributedEnvironment(rank, 2, localRank: 0, localWorldSize: 1, "127.0.0.1", port, nodeRank: rank, nodeCount: 2);
            using var group = ProcessGroup.Connect(environment, TimeSpan.FromSeconds(20));
            return (group.Rank, group.Size, group.LocalRank, group.LocalSize, group.DefaultTimeout);
        });
        Assert.Equal([(0, 2, 0, 1, TimeSpan.FromSeconds(20)), (1, 2, 0, 1, TimeSpan.FromSeconds(20))], places);
    }

    private static byte[] RandomBytes(Random random, int maxLength)
    {
        byte[] bytes = new byte[random.Next(maxLength)];
        random.NextBytes(bytes);
        return bytes;
    }
}
