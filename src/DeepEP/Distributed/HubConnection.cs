using System.Collections.Concurrent;
using System.Net.Sockets;

namespace DeepEP.Distributed;

/// <summary>
/// One rank's connection at rank 0's relay: the socket and a writer thread that sends queued frames in order, so
/// the relay hands a rank its (possibly large) result without holding up the other ranks.
/// </summary>
internal sealed class HubConnection : IDisposable
{
    // Not disposed: the writer thread may still be inside it, and it holds no operating-system handle.
    private readonly BlockingCollection<OutgoingFrame> outgoing = new();
    private readonly Thread writer;
    private readonly Action<HubConnection, Exception> sendFailed;

    /// <param name="socket">The accepted connection.</param>
    /// <param name="sendFailed">Called on the writer thread when a send fails.</param>
    public HubConnection(Socket socket, Action<HubConnection, Exception> sendFailed)
    {
        Socket = new FramedSocket(socket);
        this.sendFailed = sendFailed;
        writer = new Thread(WriteLoop) { IsBackground = true, Name = "DeepEP relay writer" };
        writer.Start();
    }

    public FramedSocket Socket { get; }

    /// <summary>The rank this connection registered as; -1 until its Hello is accepted.</summary>
    public int Rank { get; set; } = -1;

    /// <summary>Whether the rank closed its group (so losing the connection is expected).</summary>
    public bool HasSaidGoodbye { get; set; }

    /// <summary>Queues a frame; ignored once the connection is flushing or closed.</summary>
    public void Enqueue(FrameType type, byte[] header, IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        lock (outgoing)
        {
            if (!outgoing.IsAddingCompleted)
            {
                outgoing.Add(new OutgoingFrame(type, header, payloads));
            }
        }
    }

    /// <summary>Accepts no more frames: once the queued ones are sent, the rank reads the end of the stream.</summary>
    public void FinishSending()
    {
        lock (outgoing)
        {
            outgoing.CompleteAdding();
        }
    }

    /// <summary><see cref="FinishSending"/>, then waits up to <paramref name="timeout"/> for the queued frames to be sent.</summary>
    public void Flush(TimeSpan timeout)
    {
        FinishSending();
        writer.Join(timeout);
    }

    /// <summary>Closes the socket; the rank's reader and the writer thread end.</summary>
    public void Dispose()
    {
        FinishSending();
        Socket.Dispose();
    }

    private void WriteLoop()
    {
        try
        {
            foreach (var frame in outgoing.GetConsumingEnumerable())
            {
                Socket.Send(frame.Type, frame.Header, frame.Payloads, deadline: null);
            }
            Socket.ShutdownSend();
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
        {
            sendFailed(this, error);
        }
    }

    private readonly record struct OutgoingFrame(FrameType Type, byte[] Header, IReadOnlyList<ReadOnlyMemory<byte>> Payloads);
}
