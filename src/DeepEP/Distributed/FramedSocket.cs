using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace DeepEP.Distributed;

/// <summary>
/// Length-prefixed frames over a blocking TCP socket. A frame is
/// <c>[type u8][header length i32][payload count i32][header][payload lengths i64 × count][payloads]</c>, little
/// endian; payloads are sent from and received into their own arrays, so a few hundred MB cost no extra copy.
/// </summary>
internal sealed class FramedSocket : IDisposable
{
    private const int PrefixLength = 9;
    private const int MaxHeaderLength = 1 << 20;
    private const int MaxPayloadCount = 1 << 20;

    private readonly Socket socket;

    public FramedSocket(Socket socket)
    {
        this.socket = socket;
        socket.NoDelay = true;
    }

    /// <summary>Sends one frame; throws <see cref="TimeoutException"/> if <paramref name="deadline"/> passes first.</summary>
    public void Send(FrameType type, ReadOnlySpan<byte> header, IReadOnlyList<ReadOnlyMemory<byte>> payloads, Deadline? deadline)
    {
        byte[] head = new byte[PrefixLength + header.Length + 8 * payloads.Count];
        head[0] = (byte)type;
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(1), header.Length);
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(5), payloads.Count);
        header.CopyTo(head.AsSpan(PrefixLength));
        for (int i = 0; i < payloads.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(head.AsSpan(PrefixLength + header.Length + 8 * i), payloads[i].Length);
        }
        SendAll(head, deadline);
        foreach (var payload in payloads)
        {
            SendAll(payload.Span, deadline);
        }
    }

    /// <summary>
    /// Receives one frame. Throws <see cref="TimeoutException"/> if <paramref name="deadline"/> passes first,
    /// <see cref="EndOfStreamException"/> if the peer closed the connection, <see cref="InvalidDataException"/> if
    /// the bytes are not a frame.
    /// </summary>
    public Frame Receive(Deadline? deadline)
    {
        Span<byte> prefix = stackalloc byte[PrefixLength];
        ReceiveAll(prefix, deadline);
        long startTimestamp = Stopwatch.GetTimestamp();
        var type = (FrameType)prefix[0];
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(prefix[1..]);
        int payloadCount = BinaryPrimitives.ReadInt32LittleEndian(prefix[5..]);
        if (!Enum.IsDefined(type) || headerLength is < 0 or > MaxHeaderLength || payloadCount is < 0 or > MaxPayloadCount)
        {
            throw new InvalidDataException($"Not a DeepEP process-group frame (type {prefix[0]}, header {headerLength} B, {payloadCount} payloads).");
        }
        byte[] header = new byte[headerLength];
        ReceiveAll(header, deadline);
        byte[] lengths = new byte[8 * payloadCount];
        ReceiveAll(lengths, deadline);
        var payloads = new byte[payloadCount][];
        for (int i = 0; i < payloadCount; i++)
        {
            long length = BinaryPrimitives.ReadInt64LittleEndian(lengths.AsSpan(8 * i));
            if (length is < 0 or > int.MaxValue)
            {
                throw new InvalidDataException($"Payload {i} of a {type} frame claims {length} bytes.");
            }
            // Every byte is overwritten by the receive: skip zeroing hundreds of MB.
            payloads[i] = GC.AllocateUninitializedArray<byte>((int)length);
            ReceiveAll(payloads[i], deadline);
        }
        return new Frame(type, header, payloads, startTimestamp);
    }

    /// <summary>
    /// Tells the peer that nothing more will be sent (it reads the frames already sent, then the end of the stream)
    /// while this side can still read: closing with unread data would reset the connection and could discard
    /// frames the peer has not read yet.
    /// </summary>
    public void ShutdownSend()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            // Already closed or reset: the peer will see the end of the stream anyway.
        }
    }

    /// <summary>Closes the connection; a thread blocked in <see cref="Receive"/> or <see cref="Send"/> gets an exception.</summary>
    public void Dispose() => socket.Dispose();

    private void SendAll(ReadOnlySpan<byte> data, Deadline? deadline)
    {
        while (!data.IsEmpty)
        {
            socket.SendTimeout = TimeoutMilliseconds(deadline);
            int sent;
            try
            {
                sent = socket.Send(data);
            }
            catch (SocketException error) when (IsTimeout(error))
            {
                throw new TimeoutException("The deadline passed while sending.", error);
            }
            data = data[sent..];
        }
    }

    private void ReceiveAll(Span<byte> buffer, Deadline? deadline)
    {
        while (!buffer.IsEmpty)
        {
            socket.ReceiveTimeout = TimeoutMilliseconds(deadline);
            int received;
            try
            {
                received = socket.Receive(buffer);
            }
            catch (SocketException error) when (IsTimeout(error))
            {
                throw new TimeoutException("The deadline passed while receiving.", error);
            }
            if (received == 0)
            {
                throw new EndOfStreamException("The peer closed the connection.");
            }
            buffer = buffer[received..];
        }
    }

    // Socket timeouts are per call, in milliseconds, 0 meaning none: re-arm before each call with what is left.
    private static int TimeoutMilliseconds(Deadline? deadline) => deadline switch
    {
        null => 0,
        { HasPassed: true } => throw new TimeoutException("The deadline passed."),
        { } pending => Math.Max(1, pending.RemainingMilliseconds),
    };

    private static bool IsTimeout(SocketException error) => error.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock;
}
