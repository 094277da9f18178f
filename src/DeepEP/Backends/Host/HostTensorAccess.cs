using System.Runtime.InteropServices;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Typed reads and writes of host tensors the reference code needs beyond DeviceTensor's own API.
internal static class HostTensorAccess
{
    // topk_idx_t is Int64 by default and Int32 in TOPK_IDX_BITS=32 builds; both are read as long.
    public static long[] ReadIndices(DeviceTensor indices) => indices.DType switch
    {
        DType.Int64 => indices.ToArray<long>(),
        DType.Int32 => Array.ConvertAll(indices.ToArray<int>(), v => (long)v),
        _ => throw new InvalidOperationException($"Top-k indices must be Int64 or Int32, not {indices.Describe()}."),
    };

    public static void WriteIndex(DeviceTensor indices, long row, long column, long value)
    {
        if (indices.DType == DType.Int64)
        {
            indices.At<long>(row, column) = value;
        }
        else
        {
            indices.At<int>(row, column) = checked((int)value);
        }
    }

    // Bool tensors hold one byte per element; anything non-zero counts as true.
    public static bool[] ReadFlags(DeviceTensor flags) => Array.ConvertAll(flags.ToArray<byte>(), b => b != 0);

    // The innermost-dimension row at leadingIndex; rows are the unit every exchange copies.
    public static Span<T> Row<T>(DeviceTensor tensor, params ReadOnlySpan<long> leadingIndex)
        where T : unmanaged
    {
        long length = tensor.Size(-1);
        if (length == 0)
        {
            return [];
        }
        if (tensor.Stride(-1) != 1 && length > 1)
        {
            throw new InvalidOperationException($"{tensor.Describe()} needs unit stride in its last dimension.");
        }
        var index = new long[tensor.Rank];
        leadingIndex.CopyTo(index);
        return MemoryMarshal.CreateSpan(ref tensor.At<T>(index), checked((int)length));
    }
}
