using System.Net;
using System.Net.Sockets;

namespace DeepEP.Distributed;

/// <summary>
/// One rank of a multi-process group. Every rank, rank 0 included, talks to rank 0's <see cref="TcpRelayHub"/>
/// over one TCP connection (a star): it sends its contribution and reads back its result or the group's failure.
/// Payloads are sent straight from the caller's memory; only this rank's own part of a result is copied.
/// </summary>
internal sealed class TcpProcessGroup : ProcessGroup
{
    // Rank 0 decides every timeout and names the missing ranks; a rank waits this much past its own deadline for
    // that verdict before it blames rank 0 itself.
    private static readonly TimeSpan VerdictGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan GoodbyeTimeout = TimeSpan.FromSeconds(1);

    private readonly DistributedEnvironment environment;
    private readonly FramedSocket connection;
    private readonly TcpRelayHub? relay;
    private long sequence;

    private TcpProcessGroup(DistributedEnvironment environment, FramedSocket connection, TcpRelayHub? relay)
    {
        this.environment = environment;
        this.connection = connection;
        this.relay = relay;
    }

    public override int Rank => environment.Rank;

    public override int Size => environment.WorldSize;

    public override int LocalRank => environment.LocalRank;

    public override int LocalSize => environment.LocalWorldSize;

    /// <summary>Starts the relay on rank 0, connects to it (retrying until the deadline) and waits until every rank has joined.</summary>
    public static TcpProcessGroup Connect(DistributedEnvironment environment, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        var endpoint = ResolveMaster(environment);
        var relay = environment.Rank == 0 ? TcpRelayHub.Start(endpoint, environment.WorldSize) : null;
        FramedSocket? connection = null;
        try
        {
            connection = new FramedSocket(ConnectWithRetry(endpoint, deadline, timeout));
            Introduce(connection, environment, endpoint, deadline, timeout);
            return new TcpProcessGroup(environment, connection, relay) { DefaultTimeout = timeout };
        }
        catch
        {
            connection?.Dispose();
            relay?.Dispose();
            throw;
        }
    }

    public override byte[][] AllGather(ReadOnlyMemory<byte> payload, TimeSpan? timeout = null)
    {
        byte[][] received = Exchange(CollectiveKind.AllGather, -1, [payload], Size - 1, timeout);
        return WithOwn(received, payload);
    }

    public override byte[][] AllToAll(IReadOnlyList<ReadOnlyMemory<byte>> payloads, TimeSpan? timeout = null)
    {
        ValidatePayloadCount(payloads);
        ReadOnlyMemory<byte>[] toOthers = [.. payloads.Where((_, destination) => destination != Rank)];
        byte[][] received = Exchange(CollectiveKind.AllToAll, -1, toOthers, Size - 1, timeout);
        return WithOwn(received, payloads[Rank]);
    }

    public override byte[] Broadcast(ReadOnlyMemory<byte> payload, int root, TimeSpan? timeout = null)
    {
        ValidateRoot(root);
        bool isRoot = Rank == root;
        byte[][] received = Exchange(CollectiveKind.Broadcast, root, isRoot ? [payload] : [], isRoot ? 0 : 1, timeout);
        return isRoot ? payload.ToArray() : received[0];
    }

    public override void Barrier(TimeSpan? timeout = null) => Exchange(CollectiveKind.Barrier, -1, [], 0, timeout);

    protected override void Dispose(bool disposing)
    {
        try
        {
            // Say goodbye, then read to the end of the stream: closing with unread frames would reset the
            // connection and could lose the goodbye, turning a clean exit into "lost its connection" for the others.
            var deadline = Deadline.After(GoodbyeTimeout);
            connection.Send(FrameType.Goodbye, [], [], deadline);
            connection.ShutdownSend();
            while (true)
            {
                connection.Receive(deadline);
            }
        }
        catch (Exception error) when (IsConnectionError(error) || error is TimeoutException)
        {
            // The end of the stream, or rank 0 is gone or stalled: nothing more to do.
        }
        connection.Dispose();
        relay?.Dispose();
    }

    /// <summary>The payloads from the other ranks with this rank's own one (copied) in its place.</summary>
    private byte[][] WithOwn(byte[][] fromOthers, ReadOnlyMemory<byte> own)
    {
        var result = new byte[Size][];
        for (int source = 0, next = 0; source < Size; source++)
        {
            result[source] = source == Rank ? own.ToArray() : fromOthers[next++];
        }
        return result;
    }

    private byte[][] Exchange(CollectiveKind kind, int root, IReadOnlyList<ReadOnlyMemory<byte>> payloads, int expectedPayloads, TimeSpan? timeout)
    {
        var resolved = ResolveTimeout(timeout);
        return RunCollective(() =>
        {
            long number = ++sequence;
            var patience = Deadline.After(resolved).Extend(VerdictGrace);
            try
            {
                connection.Send(FrameType.Contribution, WireFormat.Encode(new WireFormat.Contribution(kind, root, resolved)), payloads, patience);
                return ReadReply(connection, patience, expectedPayloads);
            }
            catch (TimeoutException)
            {
                throw new ProcessGroupTimeoutException(kind.ToString(), [0], resolved,
                    $"collective #{number}; no word from rank 0, which relays every collective: it is stalled or has not called it");
            }
            catch (Exception error) when (IsConnectionError(error))
            {
                throw new ProcessGroupException(
                    $"Lost the connection to rank 0 during {kind} (collective #{number}): {error.Message} Rank 0 exited or closed its process group; see its output.",
                    error);
            }
        });
    }

    /// <summary>Sends this rank's Hello and waits for rank 0 to report that every rank has joined.</summary>
    private static void Introduce(FramedSocket connection, DistributedEnvironment environment, IPEndPoint endpoint, Deadline deadline, TimeSpan timeout)
    {
        var patience = deadline.Extend(VerdictGrace);
        try
        {
            var hello = new WireFormat.Hello(environment.Rank, environment.WorldSize, timeout, deadline.Remaining);
            connection.Send(FrameType.Hello, WireFormat.Encode(hello), [], patience);
            ReadReply(connection, patience, expectedPayloads: 0);
        }
        catch (TimeoutException)
        {
            throw new ProcessGroupTimeoutException(nameof(CollectiveKind.Rendezvous), [0], timeout,
                $"rank 0 at {endpoint} accepted the connection but never answered");
        }
        catch (Exception error) when (IsConnectionError(error))
        {
            throw new ProcessGroupException($"Lost the connection to rank 0 at {endpoint} during the rendezvous: {error.Message}", error);
        }
    }

    /// <summary>Reads the relay's answer: the result's payloads, or the group's failure thrown as its exception.</summary>
    private static byte[][] ReadReply(FramedSocket connection, Deadline deadline, int expectedPayloads)
    {
        var frame = connection.Receive(deadline);
        return frame.Type switch
        {
            FrameType.Failure => throw WireFormat.DecodeFailure(frame.Header).ToException(),
            FrameType.Result when frame.Payloads.Length == expectedPayloads => frame.Payloads,
            _ => throw new InvalidDataException($"Rank 0 sent a {frame.Type} frame with {frame.Payloads.Length} payloads; expected a result with {expectedPayloads}."),
        };
    }

    private static bool IsConnectionError(Exception error) =>
        error is IOException or SocketException or InvalidDataException or ObjectDisposedException;

    private static Socket ConnectWithRetry(IPEndPoint endpoint, Deadline deadline, TimeSpan timeout)
    {
        const int retryIntervalMilliseconds = 50;
        SocketException? lastError = null;
        while (!deadline.HasPassed)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var cancellation = new CancellationTokenSource(deadline.Remaining);
                socket.ConnectAsync(endpoint, cancellation.Token).AsTask().GetAwaiter().GetResult();
                return socket;
            }
            catch (Exception error) when (error is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                lastError = error as SocketException ?? lastError;
                // Rank 0 may not listen yet: try again until the deadline.
                Thread.Sleep(Math.Min(retryIntervalMilliseconds, deadline.RemainingMilliseconds));
            }
        }
        string why = lastError is null ? "" : $" ({lastError.Message})";
        throw new ProcessGroupTimeoutException(nameof(CollectiveKind.Rendezvous), [0], timeout,
            $"could not connect to rank 0 at {endpoint}{why}; is rank 0 running with the same MASTER_ADDR and MASTER_PORT?");
    }

    private static IPEndPoint ResolveMaster(DistributedEnvironment environment)
    {
        if (IPAddress.TryParse(environment.MasterAddress, out var address))
        {
            return new IPEndPoint(address, environment.MasterPort);
        }
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(environment.MasterAddress);
        }
        catch (SocketException error)
        {
            throw new ProcessGroupException(
                $"MASTER_ADDR={environment.MasterAddress} does not resolve ({error.Message}): set it to the host name or IP address of rank 0's host.", error);
        }
        // Prefer IPv4 so every rank (and rank 0's listener) picks the same address for the name.
        var chosen = addresses.FirstOrDefault(candidate => candidate.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new ProcessGroupException($"MASTER_ADDR={environment.MasterAddress} resolves to no address: set it to rank 0's host.");
        return new IPEndPoint(chosen, environment.MasterPort);
    }
}
