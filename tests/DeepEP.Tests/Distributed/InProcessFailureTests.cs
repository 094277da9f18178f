using System.Diagnostics;
using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

public sealed class InProcessFailureTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void TimeoutNamesTheRankThatDidNotArriveAndTheOperation()
    {
        var groups = ProcessGroup.CreateInProcess(3);
        var outcomes = RankThreads.Run(2, rank => groups[rank].AllGather(new byte[] { 1 }, Short));
        Assert.All(outcomes, outcome =>
        {
            var timeout = Assert.IsType<ProcessGroupTimeoutException>(outcome.Error);
            Assert.Equal("AllGather", timeout.Operation);
            Assert.Equal([2], timeout.MissingRanks);
            Assert.Equal(Short, timeout.Timeout);
            Assert.Contains("AllGather timed out after 200 ms: rank 2 did not arrive", timeout.Message);
        });
    }

    [Fact]
    public void TimeoutNamesEveryMissingRank()
    {
        var groups = ProcessGroup.CreateInProcess(8);
        var error = Assert.Throws<ProcessGroupTimeoutException>(() => groups[3].Barrier(Short));
        Assert.Equal([0, 1, 2, 4, 5, 6, 7], error.MissingRanks);
        Assert.Contains("ranks 0-2, 4-7 did not arrive", error.Message);
    }

    [Fact]
    public void GroupIsUnusableAfterATimeout()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var first = Assert.Throws<ProcessGroupTimeoutException>(() => groups[0].Barrier(Short));

        var again = Assert.Throws<ProcessGroupException>(() => groups[0].Barrier(Short));
        Assert.Same(first, again.InnerException);
        // The late rank learns what happened instead of waiting for a partner that gave up.
        var late = Assert.ThrowsAny<ProcessGroupException>(() => groups[1].Barrier(TimeSpan.FromSeconds(10)));
        Assert.Contains("rank 1 did not arrive", late.Message);
    }

    [Fact]
    public void MismatchedCollectivesFailOnEveryRankWithAClearMessage()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var outcomes = RankThreads.Run(2, rank =>
        {
            if (rank == 0)
            {
                groups[0].AllGather(new byte[] { 1 }, TimeSpan.FromSeconds(10));
            }
            else
            {
                groups[1].Barrier(TimeSpan.FromSeconds(10));
            }
            return 0;
        });
        Assert.All(outcomes, outcome =>
        {
            var error = Assert.IsType<ProcessGroupException>(outcome.Error);
            Assert.Contains("Collective mismatch at collective #1", error.Message);
            Assert.Contains("called AllGather", error.Message);
            Assert.Contains("called Barrier", error.Message);
        });
    }

    [Fact]
    public void BroadcastsWithDifferentRootsAreAMismatch()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var outcomes = RankThreads.Run(2, rank => groups[rank].Broadcast(new byte[] { 1 }, root: rank, TimeSpan.FromSeconds(10)));
        Assert.All(outcomes, outcome =>
        {
            var error = Assert.IsType<ProcessGroupException>(outcome.Error);
            Assert.Contains("Broadcast(root 0)", error.Message);
            Assert.Contains("Broadcast(root 1)", error.Message);
        });
    }

    [Fact]
    public void MismatchAfterManyCollectivesNamesItsPosition()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var outcomes = RankThreads.Run(2, rank =>
        {
            for (int i = 0; i < 5; i++)
            {
                groups[rank].Barrier();
            }
            return rank == 0 ? groups[0].AllGather(new byte[] { 1 }).Length : groups[1].Broadcast(new byte[] { 1 }, 1).Length;
        });
        Assert.All(outcomes, outcome => Assert.Contains("collective #6", Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void ADisposedRankFailsTheRanksWaitingForIt()
    {
        var groups = ProcessGroup.CreateInProcess(3);
        var watch = Stopwatch.StartNew();
        var outcomes = RankThreads.Run(3, rank =>
        {
            if (rank == 2)
            {
                Thread.Sleep(100);
                groups[2].Dispose();
                return 0;
            }
            return groups[rank].AllGather(new byte[] { 1 }, TimeSpan.FromSeconds(30)).Length;
        });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.All(outcomes.Take(2), outcome => Assert.Contains("rank 2 closed its process group",
            Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void CollectivesAfterARankLeftFailAtOnce()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        groups[1].Dispose();
        var error = Assert.Throws<ProcessGroupException>(() => groups[0].Barrier(TimeSpan.FromSeconds(30)));
        Assert.Contains("Barrier (collective #1) cannot run: rank 1 closed its process group", error.Message);
        Assert.Throws<ObjectDisposedException>(() => groups[1].Barrier());
    }

    [Fact]
    public void ConcurrentCollectivesOnOneRankAreRefused()
    {
        var groups = ProcessGroup.CreateInProcess(2);
        var outcomes = RankThreads.Run(3, thread =>
        {
            if (thread == 2)
            {
                Thread.Sleep(200); // both of rank 0's threads are inside Barrier by now
                groups[1].Barrier(TimeSpan.FromSeconds(10));
            }
            else
            {
                groups[0].Barrier(TimeSpan.FromSeconds(10));
            }
            return 0;
        });
        Assert.Single(outcomes, outcome => outcome.Error is InvalidOperationException);
        Assert.Equal(2, outcomes.Count(outcome => outcome.Error is null));
    }

    [Fact]
    public void InvalidArgumentsAreRejectedBeforeAnyRankWaits()
    {
        var group = ProcessGroup.CreateInProcess(2)[0];
        Assert.Throws<ArgumentException>(() => group.AllToAll([new byte[1]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => group.Broadcast(new byte[1], root: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => group.Barrier(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessGroup.CreateInProcess(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessGroup.CreateInProcess(2, TimeSpan.FromSeconds(-1)));
    }
}
