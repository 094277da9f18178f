using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// Runs a case's dispatch and combine twice (the second round uses the other buffer sets) on one rank and returns
/// every result as bytes: counts, ranges, statistics, and the valid packed rows, scales and source indices, then
/// the combined output. The expert is the identity (FP8 rows are cast back to BF16 on the host first).
/// </summary>
internal static class LowLatencyScenario
{
    public const int Rounds = 2;

    public static Dictionary<string, byte[]> Run(EpBuffer buffer, LowLatencyCase c)
    {
        var results = new Dictionary<string, byte[]>();
        int device = buffer.Device;
        int localExperts = c.LocalExperts(buffer.GroupSize);
        using DeviceTensor stats = DeviceTensor.Zeros(DType.Int32, [localExperts], device);
        for (int round = 0; round < Rounds; round++)
        {
            (BFloat16[] xs, long[] topks, float[] weightsHost) = c.Inputs(buffer.Rank, round);
            using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(xs, [c.Tokens, c.Hidden], device);
            using DeviceTensor topk = DeviceTensor.FromArray<long>(topks, [c.Tokens, c.Topk], device);
            using DeviceTensor weights = DeviceTensor.FromArray<float>(weightsHost, [c.Tokens, c.Topk], device);
            // The second round asks for prefix sums (MOE_EXPERT_TOKEN_NUMS_TYPE=0), which the receive phase leaves behind.
            ExpertTokenNumsType nums = round == 1 ? ExpertTokenNumsType.PrefixSums : ExpertTokenNumsType.Counts;
            using LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topk, c.MaxTokens, c.Experts, stats, useFp8: c.UseFp8,
                roundScale: c.RoundScale, useUe8m0: c.UseUe8m0, asyncFinish: c.AsyncFinish, returnRecvHook: c.Hook, expertTokenNumsType: nums);
            Complete(d.Event, d.Hook);
            using LowLatencyHandle handle = d.Handle;
            long[] ranges = handle.PackedRecvLayoutRange.ToArray<long>();
            int[] counts = CountsFromRanges(ranges, localExperts);
            int[] reported = d.PackedRecvCount.ToArray<int>();
            Assert.Equal(nums == ExpertTokenNumsType.PrefixSums ? InclusiveSums(counts) : counts, reported);
            Record(results, round, "count", reported);
            Record(results, round, "layout", ranges);
            Record(results, round, "stats", stats.ToArray<int>());
            BFloat16[][] expertOutput = ExpertOutput(d, counts, results, round);

            using DeviceTensor output = DeviceTensor.Empty(DType.BFloat16, [c.Tokens, c.Hidden], device);
            output.FillBytes(0xFF);
            using DeviceTensor y = DeviceTensor.Zeros(DType.BFloat16, d.PackedRecvX.Shape, device);
            WriteRows(y, expertOutput);
            if (c.ZeroCopy)
            {
                WriteRows(buffer.GetNextLowLatencyCombineBuffer(handle), expertOutput);
            }
            using LowLatencyCombineResult combined = buffer.LowLatencyCombine(y, topk, weights, handle, useLogfmt: c.UseLogfmt, zeroCopy: c.ZeroCopy,
                asyncFinish: c.AsyncFinish, returnRecvHook: c.Hook, @out: output);
            Complete(combined.Event, combined.Hook);
            Record(results, round, "combined", combined.CombinedX.ToArray<BFloat16>());
        }
        return results;
    }

    // Each (expert, source rank) range holds (begin << 32) | count; an expert's rows are its ranges' counts.
    private static int[] CountsFromRanges(long[] ranges, int localExperts)
    {
        int ranks = ranges.Length / localExperts;
        return Enumerable.Range(0, localExperts).Select(e => ranges.Skip(e * ranks).Take(ranks).Sum(r => (int)(r & 0xFFFFFFFF))).ToArray();
    }

    private static int[] InclusiveSums(int[] counts)
    {
        var sums = new int[counts.Length];
        for (int e = 0, total = 0; e < counts.Length; e++)
        {
            sums[e] = total += counts[e];
        }
        return sums;
    }

    private static void Complete(EventOverlap done, Action? hook)
    {
        hook?.Invoke();
        if (done.Event is not null)
        {
            done.CurrentStreamWait();
        }
    }

    // The valid rows of each expert (rows past the count are unspecified) and the identity expert's BF16 output of
    // them, per expert: at E 512 and 8 ranks the whole packed tensor is about 1 GB per rank, too much to copy around.
    private static BFloat16[][] ExpertOutput(LowLatencyDispatchResult d, int[] counts, Dictionary<string, byte[]> results, int round)
    {
        int localExperts = (int)d.PackedRecvX.Size(0), rows = (int)d.PackedRecvX.Size(1), hidden = (int)d.PackedRecvX.Size(2);
        int[] srcInfo = d.Handle.PackedRecvSrcInfo.ToArray<int>();
        var output = new BFloat16[localExperts][];
        var validSrc = new List<int>();
        var validRows = new List<byte>();
        var validScales = new List<byte>();
        bool fp8 = d.PackedRecvX.DType == DType.Float8E4M3;
        int elementBytes = fp8 ? 1 : 2;
        float[]? scales = fp8 && d.PackedRecvXScales!.DType == DType.Float32 ? d.PackedRecvXScales.ToArray<float>() : null;
        int[]? packedScales = fp8 && d.PackedRecvXScales!.DType == DType.Int32 ? d.PackedRecvXScales.ToArray<int>() : null;
        int scaleColumns = fp8 ? (int)d.PackedRecvXScales!.Size(2) : 0;
        for (int e = 0; e < localExperts; e++)
        {
            byte[] expertRows = ValidRows(d.PackedRecvX, e, counts[e]);
            output[e] = new BFloat16[counts[e] * hidden];
            for (int j = 0; j < counts[e]; j++)
            {
                long row = ((long)e * rows) + j;
                validSrc.Add(srcInfo[row]);
                ReadOnlySpan<byte> bytes = expertRows.AsSpan(j * hidden * elementBytes, hidden * elementBytes);
                validRows.AddRange(bytes);
                for (int h = 0; h < hidden; h++)
                {
                    output[e][(j * hidden) + h] = fp8
                        ? BFloat16.FromFloat(new Float8E4M3(bytes[h]).ToFloat() * Scale(scales, packedScales, row, scaleColumns, h / 128))
                        : new BFloat16(BitConverter.ToUInt16(bytes.Slice(h * 2, 2)));
                }
                for (int s = 0; s < scaleColumns; s++)
                {
                    validScales.AddRange(scales is not null ? BitConverter.GetBytes(scales[(row * scaleColumns) + s]) : BitConverter.GetBytes(packedScales![(row * scaleColumns) + s]));
                }
            }
        }
        Record(results, round, "src_info", validSrc.ToArray());
        results[$"{round}.x"] = [.. validRows];
        results[$"{round}.scales"] = [.. validScales];
        return output;
    }

    // Expert e's first `count` rows as bytes; the rest is never read.
    private static byte[] ValidRows(DeviceTensor packed, int e, int count)
    {
        using DeviceTensor valid = packed.Slice(e, 1).View(packed.Size(1), packed.Size(2)).Slice(0, count);
        return packed.DType == DType.Float8E4M3 ? valid.ToArray<byte>() : System.Runtime.InteropServices.MemoryMarshal.AsBytes(valid.ToArray<BFloat16>().AsSpan()).ToArray();
    }

    private static float Scale(float[]? scales, int[]? packed, long row, int columns, int group) =>
        scales is not null
            ? scales[(row * columns) + group]
            : BitConverter.Int32BitsToSingle(((packed![(row * columns) + (group / 4)] >> (8 * (group % 4))) & 0xFF) << 23);

    // The expert outputs go into y or the zero-copy buffer's strided view, valid rows only.
    private static void WriteRows(DeviceTensor view, BFloat16[][] output)
    {
        int hidden = (int)view.Size(2);
        for (int e = 0; e < output.Length; e++)
        {
            for (int j = 0; j < output[e].Length / hidden; j++)
            {
                nint pointer = view.Pointer + (nint)(((e * view.Stride(0)) + (j * view.Stride(1))) * 2);
                using DeviceTensor row = DeviceTensor.FromPointer(pointer, [hidden], DType.BFloat16, view.Device);
                row.CopyFrom<BFloat16>(output[e].AsSpan(j * hidden, hidden));
            }
        }
    }

    private static void Record<T>(Dictionary<string, byte[]> results, int round, string name, T[] values)
        where T : unmanaged =>
        results[$"{round}.{name}"] = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
