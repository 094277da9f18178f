using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

/// <summary>
/// V2's expanded layout on the CPU: the reference <c>impls/expert_expansion.cuh</c> matches bit for bit. Rows are
/// placed in received-row order within each expert, slots in top-k order within a row.
/// </summary>
internal static unsafe class HostExpansion
{
    /// <summary>Counts, aligned inclusive prefix sums and both directions of the row map, into <paramref name="expansion"/>'s tensors.</summary>
    public static void Place(DeviceTensor recvTopkIdx, ExpertExpansion expansion)
    {
        long[] ids = HostTensorAccess.ReadIndices(recvTopkIdx);
        int experts = checked((int)expansion.NumRecvTokensPerExpert.Size(0));
        int topk = checked((int)recvTopkIdx.Size(1));
        int capacity = checked((int)expansion.NumExpandedRows);
        var counts = new int[experts];
        foreach (long id in ids)
        {
            if (id >= 0 && id < experts)
            {
                counts[id]++;
            }
        }
        var psum = new int[experts];
        var next = new int[experts];
        int running = 0;
        for (int e = 0; e < experts; e++)
        {
            next[e] = running;
            running += (counts[e] + expansion.ExpertAlignment - 1) / expansion.ExpertAlignment * expansion.ExpertAlignment;
            psum[e] = running;
        }
        var src = new int[2 * capacity];
        Array.Fill(src, -1);
        var rowOf = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            long id = ids[i];
            int position = id >= 0 && id < experts ? next[id]++ : -1;
            // Past capacity only when the caller's layout disagrees with its top-k: dropped, as on the GPU.
            rowOf[i] = position < capacity ? position : -1;
            if (rowOf[i] >= 0)
            {
                src[2 * position] = i / topk;
                src[(2 * position) + 1] = i % topk;
            }
        }
        expansion.NumRecvTokensPerExpert.CopyFrom<int>(counts);
        expansion.PsumNumRecvTokensPerExpert.CopyFrom<int>(psum);
        expansion.SrcRowSlot.CopyFrom<int>(src);
        expansion.ExpandedRowOf.CopyFrom<int>(rowOf);
    }

    /// <summary>Copies each expanded row's source row, scales and weight; padding rows get weight 0 and, with zero padding, zero bytes.</summary>
    public static void Copy(DeviceTensor recvX, DeviceTensor? recvXScales, DeviceTensor? recvTopkWeights, ExpertExpansion expansion, ExpandedRows rows)
    {
        int[] src = expansion.SrcRowSlot.ToArray<int>();
        float[]? weights = recvTopkWeights?.ToArray<float>();
        int topk = checked((int)expansion.ExpandedRowOf.Size(1));
        var expandedWeights = new float[src.Length / 2];
        for (int position = 0; position < expandedWeights.Length; position++)
        {
            int row = src[2 * position];
            if (row < 0 && !expansion.DoZeroPadding)
            {
                continue;
            }
            CopyRow(recvX, rows.X, row, position);
            if (recvXScales is not null)
            {
                CopyRow(recvXScales, rows.XScales!, row, position);
            }
            expandedWeights[position] = row >= 0 && weights is not null ? weights[(row * topk) + src[(2 * position) + 1]] : 0f;
        }
        rows.TopkWeights?.CopyFrom<float>(expandedWeights);
    }

    /// <summary>Sums each received row's expanded copies in slot order (fp32 from +0, one rounding); folds the expanded weights back to <c>[M, K]</c>.</summary>
    public static void Reduce(DeviceTensor x, DeviceTensor? weights, ExpertExpansion expansion, DeviceTensor reduced, DeviceTensor? folded)
    {
        int[] rowOf = expansion.ExpandedRowOf.ToArray<int>();
        float[]? expandedWeights = weights?.ToArray<float>();
        int topk = checked((int)expansion.ExpandedRowOf.Size(1));
        int rows = checked((int)reduced.Size(0)), hidden = checked((int)reduced.Size(1));
        BFloat16[] input = x.ToArray<BFloat16>();
        var output = new BFloat16[(long)rows * hidden];
        var acc = new float[hidden];
        for (int row = 0; row < rows; row++)
        {
            Array.Clear(acc);
            for (int k = 0; k < topk; k++)
            {
                int position = rowOf[(row * topk) + k];
                for (int h = 0; position >= 0 && h < hidden; h++)
                {
                    acc[h] += input[((long)position * hidden) + h].ToFloat();
                }
            }
            for (int h = 0; h < hidden; h++)
            {
                output[((long)row * hidden) + h] = BFloat16.FromFloat(acc[h]);
            }
        }
        reduced.CopyFrom<BFloat16>(output);
        folded?.CopyFrom<float>(Array.ConvertAll(rowOf, position => position >= 0 && expandedWeights is not null ? expandedWeights[position] : 0f));
    }

    private static void CopyRow(DeviceTensor from, DeviceTensor to, int row, int position)
    {
        long bytes = from.Size(1) * from.DType.ElementSize();
        var target = new Span<byte>((byte*)to.Pointer + (position * bytes), checked((int)bytes));
        if (row < 0)
        {
            target.Clear();
        }
        else
        {
            new ReadOnlySpan<byte>((byte*)from.Pointer + (row * bytes), checked((int)bytes)).CopyTo(target);
        }
    }
}
