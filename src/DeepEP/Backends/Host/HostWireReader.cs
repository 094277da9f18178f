using System.Buffers.Binary;

namespace DeepEP.Backends.Host;

// Reads a message written by HostWireWriter. Running past the end or leaving bytes over means the ranks
// disagree on shapes or routing, which the GPU kernels would turn into a hang; here it is an error naming
// the sender.
internal ref struct HostWireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _sourceRank;
    private int _position;

    public HostWireReader(ReadOnlySpan<byte> data, int sourceRank)
    {
        _data = data;
        _sourceRank = sourceRank;
    }

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int)));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long)));

    public float ReadSingle() => BinaryPrimitives.ReadSingleLittleEndian(Take(sizeof(float)));

    public ReadOnlySpan<byte> ReadBytes(int count) => Take(count);

    public readonly void ExpectEnd()
    {
        if (_position != _data.Length)
        {
            throw new InvalidOperationException(
                $"The message from rank {_sourceRank} has {_data.Length - _position} bytes left over; the ranks disagree on shapes or routing.");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new InvalidOperationException(
                $"The message from rank {_sourceRank} ends after {_data.Length} bytes but {_position + count} were expected; the ranks disagree on shapes or routing.");
        }
        ReadOnlySpan<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}
