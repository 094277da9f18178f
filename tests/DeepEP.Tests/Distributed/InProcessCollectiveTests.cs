using CsCheck;
using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

public sealed class InProcessCollectiveTests
{
    private static readonly Gen<int> RankCounts = Gen.OneOf(1, 2, 4, 8);

    [Fact]
    public void AllGatherReturnsEveryRanksPayloadIndexedByRank()
    {
        RankCounts.SelectMany(size => Gen.Byte.Array[0, 300].Array[size]).Sample(payloads =>
        {
            var groups = ProcessGroup.CreateInProcess(payloads.Length);
            var results = RankThreads.RunAll(groups, group => group.AllGather(payloads[group.Rank]));
            Assert.All(results, result => Assert.Equal(payloads, result));
        }, iter: 40, threads: 1);
    }

    [Fact]
    public void AllToAllDeliversEachPayloadToItsDestination()
    {
        RankCounts.SelectMany(size => Gen.Byte.Array[0, 100].Array[size].Array[size]).Sample(sent =>
        {
            var groups = ProcessGroup.CreateInProcess(sent.Length);
            var received = RankThreads.RunAll(groups, group => group.AllToAll([.. sent[group.Rank].Select(payload => (ReadOnlyMemory<byte>)payload)]));
            for (int destination = 0; destination < sent.Length; destination++)
            {
                for (int source = 0; source < sent.Length; source++)
                {
                    Assert.Equal(sent[source][destination], received[destination][source]);
                }
            }
        }, iter: 40, threads: 1);
    }

    [Fact]
    public void BroadcastDeliversTheRootsPayloadToEveryRank()
    {
        RankCounts.SelectMany(size => Gen.Int[0, size - 1], (size, root) => (size, root)).Select(Gen.Byte.Array[0, 300])
            .Sample((shape, payload) =>
            {
                var groups = ProcessGroup.CreateInProcess(shape.size);
                // Non-root ranks pass garbage: it must be ignored.
                var results = RankThreads.RunAll(groups, group => group.Broadcast(group.Rank == shape.root ? payload : [0xEE], shape.root));
                Assert.All(results, result => Assert.Equal(payload, result));
            }, iter: 40, threads: 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void BarrierReturnsOnlyAfterEveryRankEntered(int size)
    {
        var groups = ProcessGroup.CreateInProcess(size);
        int entered = 0;
        var seenAfterBarrier = RankThreads.RunAll(groups, group =>
        {
            Thread.Sleep(group.Rank * 10);
            Interlocked.Increment(ref entered);
            group.Barrier();
            return Volatile.Read(ref entered);
        });
        Assert.All(seenAfterBarrier, seen => Assert.Equal(size, seen));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void ManySuccessiveCollectivesStayInStep(int size)
    {
        var groups = ProcessGroup.CreateInProcess(size);
        var checkedResults = RankThreads.RunAll(groups, group => CollectiveSequence.Run(group, steps: 400));
        Assert.All(checkedResults, count => Assert.Equal(400, count));
    }

    [Fact]
    public void ResultsDoNotChangeWhenTheCallerReusesItsBuffer()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var results = RankThreads.RunAll(groups, group =>
        {
            byte[] buffer = [(byte)group.Rank, 7];
            var gathered = group.AllGather(buffer);
            buffer[1] = 99;
            group.Barrier();
            return gathered;
        });
        Assert.All(results, gathered => Assert.Equal([[0, 7], [1, 7]], gathered));
    }

    [Fact]
    public void RanksReportTheirPlaceInTheGroup()
    {
        var groups = ProcessGroup.CreateInProcess(3, TimeSpan.FromSeconds(5));
        Assert.Equal([0, 1, 2], groups.Select(group => group.Rank));
        Assert.All(groups, group =>
        {
            Assert.Equal(3, group.Size);
            Assert.Equal(group.Rank, group.LocalRank);
            Assert.Equal(3, group.LocalSize);
            Assert.Equal(TimeSpan.FromSeconds(5), group.DefaultTimeout);
        });
    }
}
