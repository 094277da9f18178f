using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>Conversions between test arrays and host tensors.</summary>
internal static class HostTensors
{
    public static DeviceTensor From<T>(T[,] values)
        where T : unmanaged => DeviceTensor.FromArray<T>(Flatten(values), [values.GetLength(0), values.GetLength(1)]);

    public static DeviceTensor From<T>(T[] values, long rows, long columns)
        where T : unmanaged => DeviceTensor.FromArray<T>(values, [rows, columns]);

    public static T[,] To2D<T>(DeviceTensor tensor)
        where T : unmanaged
    {
        T[] flat = tensor.ToArray<T>();
        var result = new T[tensor.Size(0), tensor.Size(1)];
        for (int i = 0; i < result.GetLength(0); i++)
        {
            for (int j = 0; j < result.GetLength(1); j++)
            {
                result[i, j] = flat[(i * result.GetLength(1)) + j];
            }
        }
        return result;
    }

    public static T[] Flatten<T>(T[,] values)
    {
        var flat = new T[values.Length];
        for (int i = 0; i < values.GetLength(0); i++)
        {
            for (int j = 0; j < values.GetLength(1); j++)
            {
                flat[(i * values.GetLength(1)) + j] = values[i, j];
            }
        }
        return flat;
    }

    /// <summary>The same values as an Int32 top-k tensor (the TOPK_IDX_BITS=32 flavour).</summary>
    public static DeviceTensor Int32Indices(long[,] values) =>
        DeviceTensor.FromArray<int>(Array.ConvertAll(Flatten(values), v => (int)v), [values.GetLength(0), values.GetLength(1)]);

    /// <summary>A column-major copy (strides <c>(1, rows)</c>) of a 4-byte <c>[rows, columns]</c> tensor, as DeepEP's tests pass scales.</summary>
    public static DeviceTensor ColumnMajor(DeviceTensor rowMajor)
    {
        long rows = rowMajor.Size(0);
        long columns = rowMajor.Size(1);
        var result = DeviceTensor.EmptyStrided(rowMajor.DType, [rows, columns], [1, Math.Max(rows, 1)]);
        for (long i = 0; i < rows; i++)
        {
            for (long j = 0; j < columns; j++)
            {
                result.At<int>(i, j) = rowMajor.At<int>(i, j);
            }
        }
        return result;
    }
}
