using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Ep;

/// <summary>
/// Shared-expert ranks (<c>MOE_SHARED_EXPERT_RANK_NUM</c>) end to end on the host backend, against a reference written
/// here: which rows each rank's slots receive (routed and shared) and the combined output (weighted routed sum plus
/// the shared row with weight 1).
/// </summary>
public sealed class SharedExpertRankTests
{
    private const int Hidden = 128;
    private const int Capacity = 4;

    [Theory]
    [InlineData(2, 1, 4)]
    [InlineData(4, 1, 6)]
    [InlineData(4, 2, 4)]
    [InlineData(8, 1, 14)]
    [InlineData(8, 2, 12)]
    public void DispatchAndCombineMatchTheReference(int ranks, int shared, int experts)
    {
        int local = experts / (ranks - shared);
        var random = new Random(ranks * 100 + shared);
        // 0, 1 and odd token counts, including a rank with every slot masked.
        int[] tokens = [.. Enumerable.Range(0, ranks).Select(r => new[] { 0, 1, 3, 4 }[r % 4])];
        long[][] ids = [.. tokens.Select(t => RandomTopk(random, t, 3, experts))];
        float[][] weights = [.. tokens.Select(t => Enumerable.Range(0, t * 3).Select(_ => 0.5f + (float)random.NextDouble()).ToArray())];
        float[][] xs = [.. Enumerable.Range(0, ranks).Select(r => Rows(r, tokens[r]))];
        long bytes = EpBuffer.GetLowLatencyRdmaSizeHint(Capacity, Hidden, ranks, experts, shared);
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
        var options = new EpBufferOptions { Backend = EpBackendKind.Host, SharedExpertRankNum = shared };
        (HashSet<(int, int)>[] Received, int[] Counts, float[] Combined)[] results = RankThreads.RunAll(ranks, r =>
        {
            using var buffer = new EpBuffer(groups[r], 0, bytes, lowLatencyMode: true, options);
            using DeviceTensor x = DeviceTensor.FromArray<BFloat16>([.. xs[r].Select(v => (BFloat16)v)], [tokens[r], Hidden]);
            using DeviceTensor topk = DeviceTensor.FromArray<long>(ids[r], [tokens[r], 3]);
            using DeviceTensor w = DeviceTensor.FromArray<float>(weights[r], [tokens[r], 3]);
            using LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, Capacity, experts, useFp8: false);
            int[] counts = dispatched.PackedRecvCount.ToArray<int>();
            float[] packed = [.. dispatched.PackedRecvX.ToArray<BFloat16>().Select(v => (float)v)];
            var received = new HashSet<(int, int)>[local];
            float[] outputs = new float[packed.Length];
            for (int e = 0; e < local; e++)
            {
                received[e] = [];
                for (int row = 0; row < counts[e]; row++)
                {
                    long at = ((long)e * ranks * Capacity + row) * Hidden;
                    Assert.True(received[e].Add(((int)packed[at], (int)packed[at + 1])));
                    for (int h = 0; h < Hidden; h++)
                    {
                        outputs[at + h] = packed[at + h] * Scale(r, e);
                    }
                }
            }
            using DeviceTensor y = DeviceTensor.FromArray<BFloat16>([.. outputs.Select(v => (BFloat16)v)], dispatched.PackedRecvX.Shape);
            using LowLatencyCombineResult combined = buffer.LowLatencyCombine(y, topk, w, dispatched.Handle);
            dispatched.Handle.Dispose();
            return (received, counts, combined.CombinedX.ToArray<BFloat16>().Select(v => (float)v).ToArray());
        });
        for (int q = 0; q < ranks; q++)
        {
            for (int e = 0; e < local; e++)
            {
                HashSet<(int, int)> expected = ExpectedRows(q, e, ranks, shared, local, tokens, ids);
                Assert.Equal(expected.Count, results[q].Counts[e]);
                Assert.True(expected.SetEquals(results[q].Received[e]), $"rank {q} slot {e}");
            }
        }
        for (int s = 0; s < ranks; s++)
        {
            for (int t = 0; t < tokens[s]; t++)
            {
                for (int h = 0; h < Hidden; h++)
                {
                    float x = (float)(BFloat16)xs[s][t * Hidden + h];
                    // The shared expert of source s: slot 0 of rank s % N, weight 1.
                    double sum = x * Scale(s % shared, 0), bound = Math.Abs(sum);
                    for (int k = 0; k < 3; k++)
                    {
                        long id = ids[s][t * 3 + k];
                        if (id >= 0)
                        {
                            double term = weights[s][t * 3 + k] * (double)(float)(BFloat16)(x * Scale(shared + (int)(id / local), (int)(id % local)));
                            sum += term;
                            bound += Math.Abs(term);
                        }
                    }
                    Assert.InRange(results[s].Combined[t * Hidden + h], sum - bound / 64 - 1e-6, sum + bound / 64 + 1e-6);
                }
            }
        }
    }

    /// <summary>The (source rank, token) pairs slot <paramref name="e"/> of rank <paramref name="q"/> should hold.</summary>
    private static HashSet<(int, int)> ExpectedRows(int q, int e, int ranks, int shared, int local, int[] tokens, long[][] ids)
    {
        var rows = new HashSet<(int, int)>();
        for (int s = 0; s < ranks; s++)
        {
            for (int t = 0; t < tokens[s]; t++)
            {
                bool routed = q >= shared && ids[s].Skip(t * 3).Take(3).Contains((long)(q - shared) * local + e);
                bool sharedRow = q < shared && e == 0 && s % shared == q;
                if (routed || sharedRow)
                {
                    rows.Add((s, t));
                }
            }
        }
        return rows;
    }

    private static float Scale(int rank, int slot) => 0.5f + 0.25f * ((rank * 3 + slot) % 5);

    /// <summary>Row t of source s: element 0 is s, element 1 is t (to identify received rows), the rest small integers.</summary>
    private static float[] Rows(int source, int tokens)
    {
        float[] rows = new float[tokens * Hidden];
        for (int t = 0; t < tokens; t++)
        {
            rows[t * Hidden] = source;
            rows[t * Hidden + 1] = t;
            for (int h = 2; h < Hidden; h++)
            {
                rows[t * Hidden + h] = ((source + 2 * t + h) % 5) - 2;
            }
        }
        return rows;
    }

    /// <summary>Distinct ids per token, each slot masked (-1) with probability 1/4; the last token of 3 or more is fully masked.</summary>
    private static long[] RandomTopk(Random random, int tokens, int k, int experts)
    {
        long[] ids = new long[tokens * k];
        for (int t = 0; t < tokens; t++)
        {
            long[] pick = [.. Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(k).Select(i => (long)i)];
            for (int j = 0; j < k; j++)
            {
                ids[t * k + j] = (tokens >= 3 && t == tokens - 1) || random.Next(4) == 0 ? -1 : pick[j];
            }
        }
        return ids;
    }
}
