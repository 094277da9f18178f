using System.Net;
using System.Net.Sockets;

namespace DeepEP.Distributed;

/// <summary>
/// Rank 0's relay: listens on MASTER_ADDR:MASTER_PORT, admits one connection per rank (rank 0's own included),
/// matches their contributions in a <see cref="CollectiveRendezvous"/> and sends each rank its result. It decides
/// every timeout, so it can name the ranks that did not arrive, and it notices a rank's lost connection at once,
/// even while rank 0's own thread is busy elsewhere.
/// </summary>
internal sealed class TcpRelayHub : IDisposable
{
    // How long closing waits for queued results to reach ranks that are still reading.
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(10);

    // How long a closed relay keeps reading from a rank that has not closed its end, so that what the rank still
    // sends does not reset the connection before it has read the relay's last frames.
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();
    private readonly Socket listener;
    private readonly int worldSize;
    private readonly CollectiveRendezvous rendezvous;
    private readonly Timer deadlineTimer;
    private readonly HubConnection?[] ranks;
    private readonly List<HubConnection> connections = [];
    private CollectiveFailure? failure;
    private bool closing;

    private TcpRelayHub(Socket listener, int worldSize)
    {
        this.listener = listener;
        this.worldSize = worldSize;
        ranks = new HubConnection?[worldSize];
        rendezvous = new CollectiveRendezvous(worldSize, firstSequence: 0, OnCompleted, OnFailed, ArmDeadlineTimer);
        deadlineTimer = new Timer(_ => rendezvous.ExpireOverdue());
        new Thread(AcceptLoop) { IsBackground = true, Name = "DeepEP relay listener" }.Start();
    }

    /// <summary>Listens on <paramref name="endpoint"/> and starts admitting ranks.</summary>
    /// <param name="endpoint">MASTER_ADDR:MASTER_PORT.</param>
    /// <param name="worldSize">Number of ranks that must join.</param>
    /// <exception cref="ProcessGroupException">The address cannot be listened on; the message says why.</exception>
    public static TcpRelayHub Start(IPEndPoint endpoint, int worldSize)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                // SO_REUSEADDR alone (level 1, option 2), so a job restarted on the same port does not trip over the
                // previous run's TIME_WAIT connections. .NET's ReuseAddress would also set SO_REUSEPORT on Linux,
                // letting two jobs listen on one port.
                listener.SetRawSocketOption(1, 2, BitConverter.GetBytes(1));
            }
            listener.Bind(endpoint);
            listener.Listen();
        }
        catch (SocketException error)
        {
            listener.Dispose();
            string advice = error.SocketErrorCode == SocketError.AddressNotAvailable
                ? "MASTER_ADDR must be an address of the host rank 0 runs on."
                : "Another job may be using MASTER_PORT: pick a free port (deepep launch picks one when --master-port is not given).";
            throw new ProcessGroupException($"Rank 0 cannot listen on {endpoint}: {error.Message}. {advice}", error);
        }
        return new TcpRelayHub(listener, worldSize);
    }

    /// <summary>
    /// Stops admitting ranks and sends what is queued (waiting at most 10 s); each connection closes once its rank
    /// closes its end, or after 30 s.
    /// </summary>
    public void Dispose()
    {
        HubConnection[] open;
        lock (gate)
        {
            if (closing)
            {
                return;
            }
            closing = true;
            open = [.. connections];
        }
        listener.Dispose();
        deadlineTimer.Dispose();
        var flushDeadline = Deadline.After(FlushTimeout);
        foreach (var connection in open)
        {
            connection.Flush(flushDeadline.Remaining);
        }
        _ = Task.Delay(LingerTimeout).ContinueWith(_ =>
        {
            foreach (var connection in open)
            {
                connection.Dispose();
            }
        }, TaskScheduler.Default);
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = listener.Accept();
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException)
            {
                return; // closed: every rank joined or the relay is closing
            }
            var connection = new HubConnection(socket, OnConnectionLost);
            lock (gate)
            {
                if (closing)
                {
                    connection.Dispose();
                    return;
                }
                connections.Add(connection);
            }
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "DeepEP relay reader" }.Start();
        }
    }

    private void Serve(HubConnection connection)
    {
        try
        {
            // No deadline of its own: the rendezvous round times out the ranks that do not introduce themselves.
            var hello = connection.Socket.Receive(deadline: null);
            if (hello.Type != FrameType.Hello)
            {
                throw new InvalidDataException($"Expected a Hello frame, got {hello.Type}.");
            }
            WireFormat.Hello introduction;
            try
            {
                introduction = WireFormat.DecodeHello(hello.Header);
            }
            catch (InvalidDataException problem)
            {
                // Another protocol version (or not a rank at all): tell it why, but do not fail the group for it.
                Refuse(connection, CollectiveFailure.Broken(nameof(CollectiveKind.Rendezvous), problem.Message));
                return;
            }
            if (!Register(connection, introduction, hello.StartTimestamp))
            {
                return;
            }
            while (true)
            {
                var frame = connection.Socket.Receive(deadline: null);
                switch (frame.Type)
                {
                    case FrameType.Contribution:
                        Contribute(connection.Rank, frame);
                        break;
                    case FrameType.Goodbye:
                        connection.HasSaidGoodbye = true;
                        rendezvous.Leave(connection.Rank, $"rank {connection.Rank} closed its process group.");
                        connection.FinishSending();
                        break;
                    default:
                        throw new InvalidDataException($"Unexpected {frame.Type} frame from rank {connection.Rank}.");
                }
            }
        }
        catch (Exception error)
        {
            // Whatever ends this thread (a lost peer, garbage, a bug) must reach the ranks as a failure, not kill
            // the process through an unhandled exception.
            OnConnectionLost(connection, error);
        }
    }

    private bool Register(HubConnection connection, WireFormat.Hello hello, long startTimestamp)
    {
        CollectiveFailure? refusal;
        lock (gate)
        {
            refusal = failure ?? Check(hello);
            if (refusal is null)
            {
                ranks[hello.Rank] = connection;
                connection.Rank = hello.Rank;
            }
        }
        if (refusal is not null)
        {
            // Told before the others hear of it: rank 0 may close the relay as soon as it does.
            Refuse(connection, refusal);
            rendezvous.Abort(refusal);
            return false;
        }
        rendezvous.Arrive(hello.Rank, CollectiveKind.Rendezvous, -1, null, Deadline.After(startTimestamp, hello.Remaining), hello.Timeout);
        return true;
    }

    /// <summary>Queues <paramref name="reason"/> for a connection that will not join, then closes it once sent.</summary>
    private static void Refuse(HubConnection connection, CollectiveFailure reason)
    {
        connection.Enqueue(FrameType.Failure, WireFormat.Encode(reason), []);
        connection.Flush(FlushTimeout);
        connection.Dispose();
    }

    private CollectiveFailure? Check(WireFormat.Hello hello)
    {
        string? problem =
            hello.WorldSize != worldSize
                ? $"Rank {hello.Rank} was started with WORLD_SIZE={hello.WorldSize} but rank 0 with WORLD_SIZE={worldSize}: start every rank with the same WORLD_SIZE."
            : (uint)hello.Rank >= (uint)worldSize
                ? $"A process connected as rank {hello.Rank}, outside 0 ≤ RANK < WORLD_SIZE={worldSize}."
            : ranks[hello.Rank] is not null
                ? $"Two processes connected as rank {hello.Rank}: give every process its own RANK, 0 ≤ RANK < WORLD_SIZE={worldSize}."
            : null;
        return problem is null ? null : CollectiveFailure.Broken(nameof(CollectiveKind.Rendezvous), problem);
    }

    private void Contribute(int rank, Frame frame)
    {
        var header = WireFormat.DecodeContribution(frame.Header);
        object? contribution = header.Kind switch
        {
            CollectiveKind.AllGather => Expect(frame, 1)[0],
            CollectiveKind.AllToAll => Expect(frame, worldSize - 1),
            CollectiveKind.Broadcast when (uint)header.Root >= (uint)worldSize =>
                throw new InvalidDataException($"Broadcast root {header.Root} is not a rank of {worldSize}."),
            CollectiveKind.Broadcast => header.Root == rank ? Expect(frame, 1)[0] : Expect(frame, 0),
            _ => Expect(frame, 0),
        };
        // Measured from when the frame began to arrive, so a long transfer does not move the deadline.
        rendezvous.Arrive(rank, header.Kind, header.Root, contribution, Deadline.After(frame.StartTimestamp, header.Timeout), header.Timeout);
    }

    private static byte[][] Expect(Frame frame, int count) =>
        frame.Payloads.Length == count
            ? frame.Payloads
            : throw new InvalidDataException($"Expected {count} payloads, got {frame.Payloads.Length}.");

    private void OnConnectionLost(HubConnection connection, Exception error)
    {
        bool expected;
        lock (gate)
        {
            expected = closing || connection.Rank < 0 || connection.HasSaidGoodbye;
        }
        if (!expected)
        {
            rendezvous.Leave(connection.Rank,
                $"rank {connection.Rank} lost its connection to rank 0 ({error.Message.TrimEnd('.')}); its process probably exited: see its output.");
        }
        connection.Dispose();
    }

    // Called under the rendezvous lock, in round order: only queue frames.
    private void OnCompleted(CollectiveRound round)
    {
        for (int destination = 0; destination < worldSize; destination++)
        {
            ranks[destination]!.Enqueue(FrameType.Result, [], PayloadsFor(round, destination));
        }
        // The queued frames hold what they send; the round need not keep a second reference to hundreds of MB.
        Array.Clear(round.Contributions);
        if (round.Kind == CollectiveKind.Rendezvous)
        {
            listener.Dispose();
        }
    }

    private ReadOnlyMemory<byte>[] PayloadsFor(CollectiveRound round, int destination)
    {
        var contributions = round.Contributions;
        var sources = Enumerable.Range(0, worldSize).Where(source => source != destination);
        return round.Kind switch
        {
            CollectiveKind.AllGather => [.. sources.Select(source => (ReadOnlyMemory<byte>)(byte[])contributions[source]!)],
            // Each source sent worldSize - 1 payloads, skipping itself.
            CollectiveKind.AllToAll => [.. sources.Select(source =>
                (ReadOnlyMemory<byte>)((byte[][])contributions[source]!)[destination < source ? destination : destination - 1])],
            CollectiveKind.Broadcast when destination != round.Root => [(byte[])contributions[round.Root]!],
            _ => [],
        };
    }

    // Called under the rendezvous lock, once.
    private void OnFailed(CollectiveFailure reason)
    {
        HubConnection?[] registered;
        lock (gate)
        {
            failure = reason;
            registered = [.. ranks];
        }
        byte[] header = WireFormat.Encode(reason);
        // The listener stays open: a rank that connects later (rank 0's own included) hears the failure too.
        foreach (var connection in registered)
        {
            connection?.Enqueue(FrameType.Failure, header, []);
        }
    }

    private void ArmDeadlineTimer(Deadline deadline)
    {
        try
        {
            deadlineTimer.Change(deadline.RemainingMilliseconds, Timeout.Infinite);
        }
        catch (ObjectDisposedException)
        {
            // Closing: no deadline matters any more.
        }
    }
}
