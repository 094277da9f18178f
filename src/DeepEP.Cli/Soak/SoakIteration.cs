using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Soak;

/// <summary>
/// One rank's soak iterations: fresh values every iteration, every result checked against what the reference semantics
/// give for them, and every tensor disposed, so any leak shows as growing memory and any stale or wrong byte as a failure.
/// </summary>
internal sealed class SoakIteration(EpBuffer buffer, SoakSettings s)
{
    // One fixed routing per rank: every token picks Topk distinct experts, all valid.
    private readonly long[] _routing = Routing(buffer.Rank, s);

    /// <summary>Layout, dispatch and combine; null when the combined rows are what the spec says, otherwise what differs.</summary>
    public string? Normal(int iteration)
    {
        using DeviceTensor topk = DeviceTensor.FromArray<long>(_routing, [s.Tokens, s.Topk], buffer.Device);
        using DeviceTensor weights = Weights();
        BFloat16[] values = Values(iteration);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(values, [s.Tokens, s.Hidden], buffer.Device);
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, s.Experts);
        using DispatchResult received = buffer.Dispatch(x, layout, topkIdx: topk, topkWeights: weights);
        using DispatchHandle handle = received.Handle!;
        using CombineResult combined = buffer.Combine(received.RecvX, handle);
        // Combine sums, unweighted, one copy of the row from every rank the token went to (integers: exact in BF16).
        bool[] inRank = layout.IsTokenInRank.ToArray<bool>();
        BFloat16[] actual = combined.CombinedX.ToArray<BFloat16>();
        for (int t = 0; t < s.Tokens; t++)
        {
            int copies = inRank.AsSpan(t * s.Ranks, s.Ranks).Count(true);
            string? wrong = CompareRow(actual, values, t, copies, "combine");
            if (wrong is not null)
            {
                return wrong;
            }
        }
        return null;
    }

    /// <summary>Low-latency dispatch (BF16) and combine of the received rows as the expert outputs.</summary>
    public string? LowLatency(int iteration)
    {
        using DeviceTensor topk = DeviceTensor.FromArray<long>(_routing, [s.Tokens, s.Topk], buffer.Device);
        using DeviceTensor weights = Weights();
        BFloat16[] values = Values(iteration);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(values, [s.Tokens, s.Hidden], buffer.Device);
        using LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, s.Tokens, s.Experts, useFp8: false);
        using LowLatencyHandle handle = dispatched.Handle;
        using LowLatencyCombineResult combined = buffer.LowLatencyCombine(dispatched.PackedRecvX, topk, weights, handle);
        // Σ_k w_k · x with every w_k = 1/Topk (a power of two) gives x back exactly.
        BFloat16[] actual = combined.CombinedX.ToArray<BFloat16>();
        for (int t = 0; t < s.Tokens; t++)
        {
            string? wrong = CompareRow(actual, values, t, 1, "low-latency combine");
            if (wrong is not null)
            {
                return wrong;
            }
        }
        return null;
    }

    private DeviceTensor Weights() =>
        DeviceTensor.FromArray<float>(Enumerable.Repeat(1f / s.Topk, s.Tokens * s.Topk).ToArray(), [s.Tokens, s.Topk], buffer.Device);

    private string? CompareRow(BFloat16[] actual, BFloat16[] values, int token, int copies, string what)
    {
        for (int h = 0; h < s.Hidden; h++)
        {
            int i = (token * s.Hidden) + h;
            float expected = values[i].ToFloat() * copies;
            if (actual[i].ToFloat() != expected)
            {
                return $"{what}: rank {buffer.Rank} token {token} channel {h} is {actual[i].ToFloat()}, expected {expected}";
            }
        }
        return null;
    }

    // Small integers that change every iteration, so a stale buffer cannot pass.
    private BFloat16[] Values(int iteration)
    {
        var values = new BFloat16[s.Tokens * s.Hidden];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BFloat16.FromFloat(((i + (iteration * 3) + buffer.Rank) % 9) - 4);
        }
        return values;
    }

    private static long[] Routing(int rank, SoakSettings s)
    {
        var random = new Random(rank + 1);
        var ids = new long[s.Tokens * s.Topk];
        for (int t = 0; t < s.Tokens; t++)
        {
            int[] experts = Enumerable.Range(0, s.Experts).OrderBy(_ => random.Next()).Take(s.Topk).ToArray();
            for (int k = 0; k < s.Topk; k++)
            {
                ids[(t * s.Topk) + k] = experts[k];
            }
        }
        return ids;
    }
}
