using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>Helpers shared by the low-latency tests: N for a case, inputs, and simulated expert outputs.</summary>
internal static class LowLatencyRun
{
    /// <summary>N: the largest token count of any rank (at least 1).</summary>
    public static int MaxTokensPerRank(RankData[] ranks) => Math.Max(1, ranks.Max(rank => rank.NumTokens));

    /// <summary>The simulated expert: global expert e scales its input by 2^((e mod 3) - 1), which is exact in BF16.</summary>
    public static float ExpertScale(long expert) => MathF.ScaleB(1f, (int)(expert % 3) - 1);

    public static LowLatencyDispatchResult Dispatch(HostBackend backend, RankData me, RoutingCase c, int maxTokensPerRank,
        DeviceTensor? stats = null, bool useFp8 = false, bool roundScale = false, bool useUe8m0 = false, bool returnRecvHook = false) =>
        backend.LowLatencyDispatch(HostRequests.LowLatencyDispatch(
            HostTensors.From(me.X, me.NumTokens, c.Hidden), HostTensors.From(me.TopkIdx), maxTokensPerRank, c.NumExperts,
            stats, useFp8, roundScale, useUe8m0, returnRecvHook));

    /// <summary>Writes the simulated expert outputs of a BF16 dispatch's valid rows into <paramref name="target"/> ([E_l, R*N, H]).</summary>
    public static void WriteExpertOutputs(LowLatencyDispatchResult dispatched, int rank, DeviceTensor target)
    {
        int numLocalExperts = checked((int)dispatched.PackedRecvX.Size(0));
        int[] counts = dispatched.PackedRecvCount.ToArray<int>();
        for (int e = 0; e < numLocalExperts; e++)
        {
            float scale = ExpertScale(((long)rank * numLocalExperts) + e);
            for (int row = 0; row < counts[e]; row++)
            {
                ReadOnlySpan<BFloat16> input = HostTensorAccess.Row<BFloat16>(dispatched.PackedRecvX, e, row);
                Span<BFloat16> output = HostTensorAccess.Row<BFloat16>(target, e, row);
                for (int h = 0; h < input.Length; h++)
                {
                    output[h] = BFloat16.FromFloat(input[h].ToFloat() * scale);
                }
            }
        }
    }

    /// <summary>A fresh <c>[E_l, R*N, H]</c> BF16 tensor holding the simulated expert outputs.</summary>
    public static DeviceTensor ExpertOutputs(LowLatencyDispatchResult dispatched, int rank)
    {
        DeviceTensor outputs = DeviceTensor.Zeros(DType.BFloat16, dispatched.PackedRecvX.Shape);
        WriteExpertOutputs(dispatched, rank, outputs);
        return outputs;
    }
}
