using System.Text;
using DeepEP.Configuration;

namespace DeepEP.Distributed;

/// <summary>
/// The headers of the frames between a rank and rank 0's relay (see <see cref="FrameType"/>); little endian,
/// strings as UTF-8 with a length prefix. Result and Goodbye frames have empty headers.
/// </summary>
internal static class WireFormat
{
    private const uint Magic = 0x50454544; // "DEEP"
    private const int ProtocolVersion = 1;

    /// <summary>A rank introducing itself to the relay.</summary>
    /// <param name="Rank">The rank it claims.</param>
    /// <param name="WorldSize">The world size it was started with.</param>
    /// <param name="Timeout">The rendezvous timeout it was given, for messages.</param>
    /// <param name="Remaining">What is left of that timeout as it sends the frame (connecting took the rest).</param>
    public readonly record struct Hello(int Rank, int WorldSize, TimeSpan Timeout, TimeSpan Remaining);

    /// <summary>What a rank contributes to its next collective, besides the payloads.</summary>
    /// <param name="Kind">The collective it called.</param>
    /// <param name="Root">Root of a broadcast; -1 otherwise.</param>
    /// <param name="Timeout">Time left until its deadline when it sent the frame.</param>
    public readonly record struct Contribution(CollectiveKind Kind, int Root, TimeSpan Timeout);

    public static byte[] Encode(Hello hello) => Write(writer =>
    {
        writer.Write(Magic);
        writer.Write(ProtocolVersion);
        writer.Write(hello.Rank);
        writer.Write(hello.WorldSize);
        writer.Write(hello.Timeout.Ticks);
        writer.Write(hello.Remaining.Ticks);
    });

    /// <exception cref="InvalidDataException">Not a DeepEP rank, or one speaking another protocol version.</exception>
    public static Hello DecodeHello(byte[] header) => Read(header, reader =>
    {
        if (reader.ReadUInt32() != Magic)
        {
            throw new InvalidDataException("The peer is not a DeepEP rank.");
        }
        int version = reader.ReadInt32();
        if (version != ProtocolVersion)
        {
            throw new InvalidDataException(
                $"The rank speaks process-group protocol {version} but rank 0 speaks {ProtocolVersion}: run the same DeepEP version on every rank.");
        }
        return new Hello(reader.ReadInt32(), reader.ReadInt32(), ReadTimeout(reader), ReadTimeout(reader));
    });

    public static byte[] Encode(Contribution contribution) => Write(writer =>
    {
        writer.Write((byte)contribution.Kind);
        writer.Write(contribution.Root);
        writer.Write(contribution.Timeout.Ticks);
    });

    public static Contribution DecodeContribution(byte[] header) => Read(header, reader =>
    {
        var kind = (CollectiveKind)reader.ReadByte();
        if (kind is < CollectiveKind.AllGather or > CollectiveKind.Barrier)
        {
            throw new InvalidDataException($"Unknown collective {(byte)kind}.");
        }
        return new Contribution(kind, reader.ReadInt32(), ReadTimeout(reader));
    });

    public static byte[] Encode(CollectiveFailure failure) => Write(writer =>
    {
        writer.Write(failure.Operation);
        writer.Write(failure.Detail);
        writer.Write(failure.MissingRanks.Count);
        foreach (int rank in failure.MissingRanks)
        {
            writer.Write(rank);
        }
        writer.Write(failure.Timeout?.Ticks ?? -1);
    });

    public static CollectiveFailure DecodeFailure(byte[] header) => Read(header, reader =>
    {
        string operation = reader.ReadString();
        string detail = reader.ReadString();
        int[] missing = new int[reader.ReadInt32()];
        for (int i = 0; i < missing.Length; i++)
        {
            missing[i] = reader.ReadInt32();
        }
        long timeoutTicks = reader.ReadInt64();
        return new CollectiveFailure(operation, detail, missing, timeoutTicks < 0 ? null : TimeSpan.FromTicks(timeoutTicks));
    });

    private static TimeSpan ReadTimeout(BinaryReader reader)
    {
        long ticks = reader.ReadInt64();
        return ticks >= 0 && ticks <= Timeouts.Max.Ticks ? TimeSpan.FromTicks(ticks) : throw new InvalidDataException($"Invalid timeout of {ticks} ticks.");
    }

    private static byte[] Write(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            write(writer);
        }
        return stream.ToArray();
    }

    private static T Read<T>(byte[] header, Func<BinaryReader, T> read)
    {
        using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
        try
        {
            return read(reader);
        }
        catch (EndOfStreamException error)
        {
            throw new InvalidDataException("A frame header ended early.", error);
        }
    }
}
