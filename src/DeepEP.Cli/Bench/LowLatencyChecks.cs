using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>Order-independent checks of low-latency results (spec §6.3) from regenerated inputs; empty string = right.</summary>
internal static class LowLatencyChecks
{
    public static string Dispatch(LowLatencyDispatchResult result, int rank, int ranks, Func<int, BenchInputs> inputs)
    {
        LowLatencyHandle handle = result.Handle;
        int localExperts = handle.NumExperts / ranks;
        int rows = ranks * handle.NumMaxDispatchTokensPerRank;
        int hidden = handle.Hidden;
        int groups = hidden / Fp8Cast.ChannelsPerScale;
        int[] counts = result.PackedRecvCount.ToArray<int>();
        int[] srcInfo = PackedRows.ReadValid<int>(handle.PackedRecvSrcInfo, counts);
        long[] ranges = handle.PackedRecvLayoutRange.ToArray<long>();
        Float8E4M3[] data = PackedRows.ReadValid<Float8E4M3>(result.PackedRecvX, counts);
        float[] scales = PackedRows.ReadValid<float>(result.PackedRecvXScales!, counts); // logical [E_l, R*N, S]
        var q = new Float8E4M3[hidden];
        var scaleInv = new float[groups];
        for (int e = 0; e < localExperts; e++)
        {
            long globalExpert = ((long)rank * localExperts) + e;
            var covered = new bool[counts[e]];
            int total = 0;
            for (int s = 0; s < ranks; s++)
            {
                BenchInputs source = inputs(s);
                var wanted = new List<int>();
                for (int t = 0; t < source.Tokens; t++)
                {
                    for (int k = 0; k < source.Topk; k++)
                    {
                        if (source.TopkIdx[(t * source.Topk) + k] == globalExpert)
                        {
                            wanted.Add(t);
                        }
                    }
                }
                long range = ranges[(e * ranks) + s];
                int begin = (int)(range >> 32);
                int count = (int)(range & 0xFFFFFFFF);
                if (count != wanted.Count || begin < 0 || begin + count > counts[e])
                {
                    return $"expert {e} from rank {s}: range ({begin}, {count}), expected {wanted.Count} rows within {counts[e]}";
                }
                var got = new List<int>();
                for (int j = begin; j < begin + count; j++)
                {
                    if (covered[j])
                    {
                        return $"expert {e}: row {j} lies in two source ranges";
                    }
                    covered[j] = true;
                    int t = srcInfo[(e * rows) + j];
                    got.Add(t);
                    if (t < 0 || t >= source.Tokens)
                    {
                        return $"expert {e} row {j}: source token {t} out of range";
                    }
                    Fp8Cast.CastRow(source.Row(t), q, scaleInv, roundScale: false);
                    if (!data.AsSpan((int)((((long)e * rows) + j) * hidden), hidden).SequenceEqual(q))
                    {
                        return $"expert {e} row {j} (rank {s}, token {t}): FP8 data differs";
                    }
                    for (int g = 0; g < groups; g++)
                    {
                        if (scales[(((long)e * rows) + j) * groups + g] != scaleInv[g])
                        {
                            return $"expert {e} row {j} (rank {s}, token {t}): scale {g} differs";
                        }
                    }
                }
                got.Sort();
                if (!got.SequenceEqual(wanted))
                {
                    return $"expert {e} from rank {s}: received tokens differ from the routing";
                }
                total += count;
            }
            if (total != counts[e])
            {
                return $"packedRecvCount[{e}] = {counts[e]}, but the ranges hold {total}";
            }
        }
        return "";
    }

    /// <summary>The identity expert: the packed FP8 rows cast back to BF16, <c>[E_l, R*N, H]</c> (rows past the counts are zero).</summary>
    public static DeviceTensor CastBack(LowLatencyDispatchResult result, int device)
    {
        long experts = result.PackedRecvX.Size(0);
        long rows = result.PackedRecvX.Size(1);
        long hidden = result.PackedRecvX.Size(2);
        int[] counts = result.PackedRecvCount.ToArray<int>();
        using DeviceTensor data = DeviceTensor.FromArray<Float8E4M3>(PackedRows.ReadValid<Float8E4M3>(result.PackedRecvX, counts), [experts * rows, hidden]);
        using DeviceTensor scales = DeviceTensor.FromArray<float>(PackedRows.ReadValid<float>(result.PackedRecvXScales!, counts), [experts * rows, hidden / Fp8Cast.ChannelsPerScale]);
        using DeviceTensor back = Fp8Cast.PerTokenCastBack(data, scales);
        return back.View(experts, rows, hidden).To(device);
    }

    /// <summary>Each token comes back as Σ_k w[t,k] · castback(x[t]) over its unmasked slots.</summary>
    public static string Combine(LowLatencyCombineResult result, BenchInputs mine, double limit = 1e-5)
    {
        int hidden = mine.Hidden;
        BFloat16[] combined = result.CombinedX.ToArray<BFloat16>();
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(mine.X, [mine.Tokens, hidden]);
        using Fp8Tensor cast = Fp8Cast.PerTokenCast(x);
        using DeviceTensor back = Fp8Cast.PerTokenCastBack(cast.Data, cast.Scales);
        BFloat16[] expertRows = back.ToArray<BFloat16>();
        var want = new double[combined.Length];
        var got = new double[combined.Length];
        for (int t = 0; t < mine.Tokens; t++)
        {
            double weight = 0;
            for (int k = 0; k < mine.Topk; k++)
            {
                weight += mine.TopkIdx[(t * mine.Topk) + k] >= 0 ? mine.TopkWeights[(t * mine.Topk) + k] : 0;
            }
            for (int h = 0; h < hidden; h++)
            {
                int i = (t * hidden) + h;
                want[i] = expertRows[i].ToFloat() * weight;
                got[i] = combined[i].ToFloat();
            }
        }
        double diff = CalcDiff.Of(got, want);
        return diff < limit ? "" : $"calc_diff {diff:E2} ≥ {limit:G1}";
    }
}
