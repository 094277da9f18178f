using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Reads the valid rows of a low-latency packed tensor <c>[E_l, R*N, …]</c>. Rows past an expert's count are never
/// written (as in DeepEP), so they are left out instead of copied: compute-sanitizer's initcheck reports every
/// uninitialised byte a copy reads.
/// </summary>
internal static class PackedRows
{
    /// <summary>
    /// The tensor's elements in logical row-major order, with the first <paramref name="counts"/>[e] rows of expert
    /// e read from the device and the rest left default. Rows may be contiguous (data) or the fastest dimension
    /// (scales, strides <c>(S*R*N, 1, R*N)</c>).
    /// </summary>
    public static T[] ReadValid<T>(DeviceTensor packed, int[] counts)
        where T : unmanaged
    {
        long experts = packed.Size(0), rows = packed.Size(1);
        long inner = packed.NumElements / (experts * rows);
        var result = new T[packed.NumElements];
        bool rowsInnermost = inner > 1 && packed.Stride(1) == 1;
        for (int e = 0; e < experts; e++)
        {
            int count = counts[e];
            if (count == 0)
            {
                continue;
            }
            if (!rowsInnermost)
            {
                using DeviceTensor valid = packed.Slice(e, 1).View(rows, inner).Slice(0, count);
                valid.ToArray<T>().CopyTo(result.AsSpan((int)(e * rows * inner)));
                continue;
            }
            // [inner, rows] per expert, each row-run contiguous: one read of `count` values per inner index.
            using DeviceTensor columns = packed.Transpose(1, 2).Slice(e, 1).View(inner, rows);
            for (int g = 0; g < inner; g++)
            {
                using DeviceTensor run = columns.Slice(g, 1).View(rows).Slice(0, count);
                T[] values = run.ToArray<T>();
                for (int j = 0; j < count; j++)
                {
                    result[(e * rows * inner) + (j * inner) + g] = values[j];
                }
            }
        }
        return result;
    }
}
