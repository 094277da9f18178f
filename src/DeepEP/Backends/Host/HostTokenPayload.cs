using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// What normal dispatch moves per token: the row of x (BF16 or FP8) as raw bytes, plus its scales copied bit
// for bit. Scales may be strided (DeepEP's tests pass column-major ones); received scales are row-major.
internal sealed class HostTokenPayload
{
    private readonly DeviceTensor _x;
    private readonly DeviceTensor? _scales;

    public HostTokenPayload(DeviceTensor x, DeviceTensor? scales)
    {
        if (x.Rank != 2 || (scales is not null && (scales.Rank != 2 || scales.Size(0) != x.Size(0) || scales.DType.ElementSize() != sizeof(int))))
        {
            throw new InvalidOperationException($"Dispatch needs x [T, H] and 4-byte scales [T, S]; got {x.Describe()} and {scales?.Describe() ?? "no scales"}.");
        }
        _x = x;
        _scales = scales;
        RowBytes = checked((int)(x.Size(1) * x.DType.ElementSize()));
        NumScales = scales is null ? 0 : checked((int)scales.Size(1));
    }

    public int RowBytes { get; }

    public int NumScales { get; }

    public int WireBytes => RowBytes + (NumScales * sizeof(int));

    public void Write(HostWireWriter writer, int token)
    {
        writer.WriteBytes(_x.AsSpan<byte>().Slice(token * RowBytes, RowBytes));
        for (int s = 0; s < NumScales; s++)
        {
            writer.WriteInt32(_scales!.At<int>(token, s));
        }
    }

    public (DeviceTensor RecvX, DeviceTensor? RecvScales) AllocateReceive(long rows) =>
        (DeviceTensor.Empty(_x.DType, [rows, _x.Size(1)]),
         _scales is null ? null : DeviceTensor.Empty(_scales.DType, [rows, NumScales]));

    public void Read(ref HostWireReader reader, DeviceTensor recvX, DeviceTensor? recvScales, long row)
    {
        reader.ReadBytes(RowBytes).CopyTo(recvX.AsSpan<byte>().Slice(checked((int)(row * RowBytes)), RowBytes));
        for (int s = 0; s < NumScales; s++)
        {
            recvScales!.At<int>(row, s) = reader.ReadInt32();
        }
    }
}
