using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Independent checks of normal-mode results against the spec, computed from the regenerated inputs of every
/// rank (not from any backend). Each returns an empty string when the result is right, else the first mismatch.
/// </summary>
internal static class NormalChecks
{
    /// <summary>The (source rank, source token) of every row rank <paramref name="rank"/> must receive, in order (spec §2.3).</summary>
    public static List<(int Source, int Token)> ExpectedReceives(int rank, int ranks, int localExperts, Func<int, BenchInputs> inputs)
    {
        var rows = new List<(int, int)>();
        for (int s = 0; s < ranks; s++)
        {
            BenchInputs source = inputs(s);
            for (int t = 0; t < source.Tokens; t++)
            {
                if (source.SelectsRank(t, rank, localExperts))
                {
                    rows.Add((s, t));
                }
            }
        }
        return rows;
    }

    public static string Layout(DispatchLayout layout, BenchInputs mine, int ranks, int experts)
    {
        int localExperts = experts / ranks;
        int[] perRank = layout.NumTokensPerRank.ToArray<int>();
        int[] perExpert = layout.NumTokensPerExpert.ToArray<int>();
        bool[] inRank = layout.IsTokenInRank.ToArray<bool>();
        var expectedPerExpert = new int[experts];
        foreach (long e in mine.TopkIdx)
        {
            if (e >= 0)
            {
                expectedPerExpert[e]++;
            }
        }
        for (int e = 0; e < experts; e++)
        {
            if (perExpert[e] != expectedPerExpert[e])
            {
                return $"numTokensPerExpert[{e}] = {perExpert[e]}, expected {expectedPerExpert[e]}";
            }
        }
        for (int d = 0; d < ranks; d++)
        {
            int count = 0;
            for (int t = 0; t < mine.Tokens; t++)
            {
                bool expected = mine.SelectsRank(t, d, localExperts);
                if (inRank[(t * ranks) + d] != expected)
                {
                    return $"isTokenInRank[{t}, {d}] = {inRank[(t * ranks) + d]}, expected {expected}";
                }
                count += expected ? 1 : 0;
            }
            if (perRank[d] != count)
            {
                return $"numTokensPerRank[{d}] = {perRank[d]}, expected {count}";
            }
        }
        return "";
    }

    public static string Bf16Dispatch(DispatchResult result, List<(int Source, int Token)> expected, Func<int, BenchInputs> inputs, int rank, int localExperts)
    {
        string shape = RowCount(result.RecvX, expected.Count);
        if (shape.Length > 0)
        {
            return shape;
        }
        BFloat16[] recv = result.RecvX.ToArray<BFloat16>();
        int[] srcIdx = result.Handle!.RecvSrcIdx.ToArray<int>();
        long[] recvTopk = result.RecvTopkIdx!.ToArray<long>();
        float[] recvWeights = result.RecvTopkWeights!.ToArray<float>();
        int hidden = (int)result.RecvX.Size(1);
        int topk = (int)result.RecvTopkIdx!.Size(1);
        var perExpert = new int[localExperts];
        for (int i = 0; i < expected.Count; i++)
        {
            (int s, int t) = expected[i];
            BenchInputs source = inputs(s);
            if (srcIdx[i] != t)
            {
                return $"row {i}: recvSrcIdx {srcIdx[i]}, expected token {t} of rank {s}";
            }
            if (!recv.AsSpan(i * hidden, hidden).SequenceEqual(source.Row(t)))
            {
                return $"row {i} (rank {s}, token {t}): data differs";
            }
            for (int k = 0; k < topk; k++)
            {
                long e = source.TopkIdx[(t * topk) + k];
                bool local = e >= (long)rank * localExperts && e < (long)(rank + 1) * localExperts;
                long rebased = local ? e - ((long)rank * localExperts) : -1;
                float weight = local ? source.TopkWeights[(t * topk) + k] : 0f;
                if (recvTopk[(i * topk) + k] != rebased || BitConverter.SingleToInt32Bits(recvWeights[(i * topk) + k]) != BitConverter.SingleToInt32Bits(weight))
                {
                    return $"row {i} slot {k}: top-k ({recvTopk[(i * topk) + k]}, {recvWeights[(i * topk) + k]}), expected ({rebased}, {weight})";
                }
                perExpert[rebased < 0 ? 0 : rebased] += rebased < 0 ? 0 : 1;
            }
        }
        for (int e = 0; e < localExperts; e++)
        {
            if (result.NumRecvTokensPerExpertList[e] != perExpert[e])
            {
                return $"numRecvTokensPerExpertList[{e}] = {result.NumRecvTokensPerExpertList[e]}, expected {perExpert[e]}";
            }
        }
        return "";
    }

    public static string Fp8Dispatch(DispatchResult result, List<(int Source, int Token)> expected, Func<int, BenchInputs> inputs)
    {
        string shape = RowCount(result.RecvX, expected.Count);
        if (shape.Length > 0)
        {
            return shape;
        }
        Float8E4M3[] recv = result.RecvX.ToArray<Float8E4M3>();
        float[] scales = result.RecvXScales!.ToArray<float>();
        int hidden = (int)result.RecvX.Size(1);
        int groups = hidden / Fp8Cast.ChannelsPerScale;
        var q = new Float8E4M3[hidden];
        var scaleInv = new float[groups];
        for (int i = 0; i < expected.Count; i++)
        {
            (int s, int t) = expected[i];
            Fp8Cast.CastRow(inputs(s).Row(t), q, scaleInv, roundScale: false);
            if (!recv.AsSpan(i * hidden, hidden).SequenceEqual(q))
            {
                return $"row {i} (rank {s}, token {t}): FP8 data differs";
            }
            if (!scales.AsSpan(i * groups, groups).SequenceEqual(scaleInv))
            {
                return $"row {i} (rank {s}, token {t}): scales differ";
            }
        }
        return "";
    }

    /// <summary>Combine of the unchanged dispatch output: each token comes back as x × (ranks it reached), rounded once to BF16.</summary>
    public static string IdentityCombine(CombineResult result, BenchInputs mine, int ranks, int localExperts)
    {
        BFloat16[] combined = result.CombinedX.ToArray<BFloat16>();
        int hidden = mine.Hidden;
        for (int t = 0; t < mine.Tokens; t++)
        {
            int reached = Enumerable.Range(0, ranks).Count(d => mine.SelectsRank(t, d, localExperts));
            ReadOnlySpan<BFloat16> row = mine.Row(t);
            for (int h = 0; h < hidden; h++)
            {
                BFloat16 want = BFloat16.FromFloat(row[h].ToFloat() * reached);
                if (combined[(t * hidden) + h] != want)
                {
                    return $"token {t} channel {h}: {combined[(t * hidden) + h]}, expected {want} (x × {reached})";
                }
            }
        }
        return "";
    }

    private static string RowCount(DeviceTensor recvX, int expected) =>
        recvX.Size(0) == expected ? "" : $"received {recvX.Size(0)} rows, expected {expected}";

    /// <summary>INT8 quantised inside dispatch: each received row is <see cref="Int8Cast"/> of its source row, codes and scale bit for bit.</summary>
    public static string Int8Dispatch(DispatchResult result, List<(int Source, int Token)> expected, Func<int, BenchInputs> inputs)
    {
        if (result.RecvX.DType != DType.Int8 || result.RecvX.Size(0) != expected.Count || result.RecvXScales is not { } recvScales)
        {
            return $"expected Int8 rows [{expected.Count}, H] with scales, got {result.RecvX.Describe()}";
        }
        int hidden = (int)result.RecvX.Size(1);
        sbyte[] data = result.RecvX.ToArray<sbyte>();
        float[] scales = recvScales.ToArray<float>();
        var q = new sbyte[hidden];
        for (int i = 0; i < expected.Count; i++)
        {
            (int s, int t) = expected[i];
            float scale = Int8Cast.CastRow(inputs(s).Row(t), q);
            if (!data.AsSpan(i * hidden, hidden).SequenceEqual(q) || BitConverter.SingleToInt32Bits(scales[i]) != BitConverter.SingleToInt32Bits(scale))
            {
                return $"row {i} (rank {s}, token {t}): INT8 codes or scale differ from Int8Cast";
            }
        }
        return "";
    }

    /// <summary>
    /// V2's expanded layout of a BF16 dispatch with zero padding: expert e's segment holds the received rows whose
    /// top-k names e, in received order, bit for bit, then zero rows up to its aligned end.
    /// </summary>
    public static string Expanded(DispatchResult result)
    {
        ExpertExpansion expansion = result.Handle!.Expansion!;
        int[] counts = expansion.NumRecvTokensPerExpert.ToArray<int>();
        int[] ends = expansion.PsumNumRecvTokensPerExpert.ToArray<int>();
        long[] topk = result.RecvTopkIdx!.ToArray<long>();
        int k = (int)result.RecvTopkIdx.Size(1), hidden = (int)result.RecvX.Size(1);
        ushort[] received = result.RecvX.ToArray<ushort>();
        ushort[] rows = result.Expanded!.X.ToArray<ushort>();
        for (int e = 0, start = 0; e < counts.Length; start = ends[e], e++)
        {
            int next = start;
            for (int m = 0; m < topk.Length / k; m++)
            {
                for (int j = 0; j < k; j++)
                {
                    if (topk[(m * k) + j] == e && !rows.AsSpan(next++ * hidden, hidden).SequenceEqual(received.AsSpan(m * hidden, hidden)))
                    {
                        return $"expert {e}: expanded row {next - 1} is not received row {m}";
                    }
                }
            }
            if (next - start != counts[e] || rows.AsSpan(next * hidden, (ends[e] - next) * hidden).ContainsAnyExcept((ushort)0))
            {
                return $"expert {e}: {next - start} rows name it, the count says {counts[e]}, or its padding up to {ends[e]} is not zero";
            }
        }
        return "";
    }
}
