using System.Buffers;
using System.Buffers.Binary;

namespace DeepEP.Backends.Host;

// One rank-to-rank message: little-endian scalars and raw row bytes with no padding, so the same bytes
// work whether the ranks are threads of one process or separate processes.
internal sealed class HostWireWriter(int initialCapacity)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(Math.Max(initialCapacity, 1));

    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(sizeof(int)), value);
        _buffer.Advance(sizeof(int));
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(sizeof(long)), value);
        _buffer.Advance(sizeof(long));
    }

    public void WriteSingle(float value)
    {
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(sizeof(float)), value);
        _buffer.Advance(sizeof(float));
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);
}
