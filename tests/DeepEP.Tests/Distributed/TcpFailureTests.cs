using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

public sealed class TcpFailureTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    [Fact]
    public void TimeoutNamesTheRankThatDidNotArrive()
    {
        int port = LoopbackRanks.FreePort();
        using var othersFailed = new CountdownEvent(2);
        var errors = RankThreads.RunAll(3, rank =>
        {
            using var group = ProcessGroup.Connect(LoopbackRanks.Environment(rank, 3, port), Long);
            if (rank == 2)
            {
                othersFailed.Wait(Long);
                return null;
            }
            var error = Record.Exception(() => group.AllGather(new byte[] { 1 }, Short));
            othersFailed.Signal();
            return error;
        });
        Assert.All(errors.Take(2), error =>
        {
            var timeout = Assert.IsType<ProcessGroupTimeoutException>(error);
            Assert.Equal("AllGather", timeout.Operation);
            Assert.Equal([2], timeout.MissingRanks);
            Assert.Contains("rank 2 did not arrive (collective #1)", timeout.Message);
        });
    }

    [Fact]
    public void TimeoutNamesRankZeroWhenItsThreadIsLate()
    {
        int port = LoopbackRanks.FreePort();
        using var rankOneFailed = new ManualResetEventSlim();
        var watch = new Stopwatch();
        var errors = RankThreads.RunAll(2, rank =>
        {
            using var group = ProcessGroup.Connect(LoopbackRanks.Environment(rank, 2, port), Long);
            if (rank == 0)
            {
                rankOneFailed.Wait(Long);
                return null;
            }
            watch.Start();
            var error = Record.Exception(() => group.Barrier(Short));
            watch.Stop();
            rankOneFailed.Set();
            return error;
        });
        var timeout = Assert.IsType<ProcessGroupTimeoutException>(errors[1]);
        Assert.Equal([0], timeout.MissingRanks);
        Assert.Equal("Barrier", timeout.Operation);
        // Rank 0's relay gave the verdict; it did not come from rank 1 giving up on the relay.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.5), $"took {watch.Elapsed}");
    }

    [Fact]
    public void RendezvousTimeoutNamesTheRankThatNeverStarted()
    {
        int port = LoopbackRanks.FreePort();
        var outcomes = RankThreads.Run(2, rank => ProcessGroup.Connect(LoopbackRanks.Environment(rank, 3, port), TimeSpan.FromSeconds(1.5)));
        Assert.All(outcomes, outcome =>
        {
            var timeout = Assert.IsType<ProcessGroupTimeoutException>(outcome.Error);
            Assert.Equal("Rendezvous", timeout.Operation);
            Assert.Equal([2], timeout.MissingRanks);
            Assert.Equal(TimeSpan.FromSeconds(1.5), timeout.Timeout);
        });
    }

    [Fact]
    public void RendezvousWithoutRankZeroNamesRankZero()
    {
        int port = LoopbackRanks.FreePort();
        var timeout = Assert.Throws<ProcessGroupTimeoutException>(() => ProcessGroup.Connect(LoopbackRanks.Environment(1, 2, port), Short));
        Assert.Equal("Rendezvous", timeout.Operation);
        Assert.Equal([0], timeout.MissingRanks);
        Assert.Contains($"could not connect to rank 0 at 127.0.0.1:{port}", timeout.Message);
    }

    [Fact]
    public void APeerThatDisconnectsFailsTheOthersAtOnce()
    {
        int port = LoopbackRanks.FreePort();
        var watch = Stopwatch.StartNew();
        var outcomes = RankThreads.Run(3, rank =>
        {
            if (rank == 2)
            {
                // A rank whose process dies: it joins, then its connection drops without a goodbye.
                using var peer = JoinAsRawPeer(port, rank: 2, worldSize: 3);
                return 0;
            }
            using var group = ProcessGroup.Connect(LoopbackRanks.Environment(rank, 3, port), Long);
            return group.AllGather(new byte[] { 1 }, TimeSpan.FromSeconds(30)).Length;
        });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.All(outcomes.Take(2), outcome =>
            Assert.Contains("rank 2 lost its connection to rank 0", Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void LosingRankZeroFailsTheOtherRanks()
    {
        using var fakeRelay = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        fakeRelay.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        fakeRelay.Listen();
        int port = ((IPEndPoint)fakeRelay.LocalEndPoint!).Port;
        var outcomes = RankThreads.Run(2, role =>
        {
            if (role == 0)
            {
                // Rank 0 admits rank 1, then its process dies.
                using var connection = new FramedSocket(fakeRelay.Accept());
                connection.Receive(deadline: null);
                connection.Send(FrameType.Result, [], [], deadline: null);
                return "";
            }
            using var group = ProcessGroup.Connect(LoopbackRanks.Environment(1, 2, port), Long);
            return Assert.Throws<ProcessGroupException>(() => group.AllGather(new byte[] { 1 }, TimeSpan.FromSeconds(30))).Message;
        });
        Assert.Contains("Lost the connection to rank 0 during AllGather (collective #1)", outcomes[1].Ok);
    }

    [Fact]
    public void ARankThatClosesItsGroupFailsTheOthersAtOnce()
    {
        int port = LoopbackRanks.FreePort();
        var outcomes = RankThreads.Run(2, rank =>
        {
            using var group = ProcessGroup.Connect(LoopbackRanks.Environment(rank, 2, port), Long);
            return rank == 0 ? group.Broadcast(new byte[] { 1 }, 0, TimeSpan.FromSeconds(30)).Length : 0;
        });
        Assert.Contains("rank 1 closed its process group", Assert.IsType<ProcessGroupException>(outcomes[0].Error).Message);
    }

    [Fact]
    public void MismatchedCollectivesFailOnEveryRank()
    {
        var outcomes = LoopbackRanks.Run(2, group =>
        {
            if (group.Rank == 0)
            {
                group.AllGather(new byte[] { 1 }, TimeSpan.FromSeconds(30));
            }
            else
            {
                group.Barrier(TimeSpan.FromSeconds(30));
            }
            return 0;
        });
        Assert.All(outcomes, outcome =>
            Assert.Contains("Collective mismatch at collective #1", Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void WorldSizeMismatchIsReportedToEveryRank()
    {
        int port = LoopbackRanks.FreePort();
        var outcomes = RankThreads.Run(2, rank => ProcessGroup.Connect(LoopbackRanks.Environment(rank, rank + 2, port), Long));
        Assert.All(outcomes, outcome => Assert.Contains("Rank 1 was started with WORLD_SIZE=3 but rank 0 with WORLD_SIZE=2",
            Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void TwoProcessesClaimingOneRankAreReportedToEveryRank()
    {
        int port = LoopbackRanks.FreePort();
        var outcomes = RankThreads.Run(3, thread => ProcessGroup.Connect(LoopbackRanks.Environment(Math.Min(thread, 1), 3, port), Long));
        Assert.All(outcomes, outcome => Assert.Contains("Two processes connected as rank 1",
            Assert.IsType<ProcessGroupException>(outcome.Error).Message));
    }

    [Fact]
    public void RankZeroExplainsABusyPort()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        var error = Assert.Throws<ProcessGroupException>(() => ProcessGroup.Connect(LoopbackRanks.Environment(0, 2, port), Short));
        Assert.Contains($"Rank 0 cannot listen on 127.0.0.1:{port}", error.Message);
        Assert.Contains("MASTER_PORT", error.Message);
    }

    [Fact]
    public void ARankOfAnotherProtocolVersionIsToldWhyAndTheOthersNameIt()
    {
        int port = LoopbackRanks.FreePort();
        var outcomes = RankThreads.Run(2, rank =>
        {
            if (rank == 0)
            {
                return Record.Exception(() => ProcessGroup.Connect(LoopbackRanks.Environment(0, 2, port), TimeSpan.FromSeconds(1)));
            }
            using var peer = new FramedSocket(ConnectRaw(port));
            byte[] hello = [0x44, 0x45, 0x45, 0x50, 99, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, .. BitConverter.GetBytes(Long.Ticks), .. BitConverter.GetBytes(Long.Ticks)];
            peer.Send(FrameType.Hello, hello, [], Deadline.After(Long));
            var answer = peer.Receive(Deadline.After(Long));
            Assert.Equal(FrameType.Failure, answer.Type);
            return WireFormat.DecodeFailure(answer.Header).ToException();
        });
        Assert.Contains("speaks process-group protocol 99 but rank 0 speaks 1", outcomes[1].Ok!.Message);
        Assert.Equal([1], Assert.IsType<ProcessGroupTimeoutException>(outcomes[0].Ok).MissingRanks);
    }

    private static Socket ConnectRaw(int port)
    {
        var deadline = Deadline.After(Long);
        while (true)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Connect(IPAddress.Loopback, port);
                return socket;
            }
            catch (SocketException) when (!deadline.HasPassed)
            {
                socket.Dispose();
                Thread.Sleep(20); // rank 0 is not listening yet
            }
        }
    }

    /// <summary>Speaks the protocol by hand: joins as <paramref name="rank"/> and returns the open connection.</summary>
    private static FramedSocket JoinAsRawPeer(int port, int rank, int worldSize)
    {
        var connection = new FramedSocket(ConnectRaw(port));
        var deadline = Deadline.After(Long);
        connection.Send(FrameType.Hello, WireFormat.Encode(new WireFormat.Hello(rank, worldSize, Long, Long)), [], deadline);
        Assert.Equal(FrameType.Result, connection.Receive(deadline).Type);
        return connection;
    }
}
