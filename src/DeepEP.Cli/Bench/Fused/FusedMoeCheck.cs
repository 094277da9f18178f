using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>
/// The fused layer of a GPU backend against the host backend (the reference arithmetic of docs/fused-moe.md) on the
/// same inputs and weights, as <c>tests/DeepEP.Tests.Gpu/Fused/FusedMoeComparison</c> does: DeepEP's calc_diff
/// (<see cref="CalcDiff"/>) of this rank's outputs at most 1e-5 for BF16 weights and 1e-3 for Int8 and Fp8, received
/// counts equal. The host reference costs about 6·H·I FLOPs per row on the CPU, so only each rank's first
/// <see cref="BenchSettings.CheckTokens"/> tokens are checked. Every rank calls it in the same order (the host
/// backend's buffer lives on the same group); it owns that buffer.
/// </summary>
internal sealed class FusedMoeCheck(ProcessGroup group, BenchSettings s, int experts) : IDisposable
{
    private readonly EpBuffer _host = new(group, 0, EpBuffer.GetLowLatencyRdmaSizeHint(Math.Min(s.CheckTokens, s.LowLatencyTokens), s.Hidden, group.Size, experts),
        lowLatencyMode: true, new EpBufferOptions { Backend = EpBackendKind.Host, ValidateExpertIds = false });

    /// <summary>Tokens per rank checked.</summary>
    public int Tokens => Math.Min(s.CheckTokens, s.LowLatencyTokens);

    /// <summary>
    /// Runs the first <see cref="Tokens"/> of <paramref name="mine"/> through <paramref name="buffer"/> with
    /// <paramref name="weights"/> and through the host backend with <paramref name="hostWeights"/> (the same values);
    /// the problem (null when none) and what held.
    /// </summary>
    public (string? Problem, string Verdict) AgainstHost(EpBuffer buffer, BenchInputs mine, MoeExpertWeights hostWeights, MoeExpertWeights weights, MoeQuantMode quant)
    {
        int t = Tokens;
        (BFloat16[] want, int[] wantCounts) = Run(_host, mine, hostWeights, t);
        (BFloat16[] got, int[] gotCounts) = Run(buffer, mine, weights, t);
        double diff = CalcDiff.Of([.. got.Select(v => (double)v.ToFloat())], [.. want.Select(v => (double)v.ToFloat())]);
        double bound = quant == MoeQuantMode.None ? 1e-5 : 1e-3;
        string measured = $"calc_diff {diff:E1} vs host";
        return !gotCounts.SequenceEqual(wantCounts) ? ($"received counts differ from the host backend's at {t} tokens per rank", measured)
            : !(diff <= bound) ? ($"calc_diff {diff:E2} > {bound:E0} against the host backend at {t} tokens per rank", measured)
            : (null, measured);
    }

    public void Dispose() => _host.Dispose();

    private static (BFloat16[] Output, int[] Counts) Run(EpBuffer buffer, BenchInputs mine, MoeExpertWeights weights, int tokens)
    {
        int device = buffer.Device, hidden = mine.Hidden, topk = mine.Topk;
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(mine.X.AsSpan(0, tokens * hidden), [tokens, hidden], device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(mine.TopkIdx.AsSpan(0, tokens * topk), [tokens, topk], device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(mine.TopkWeights.AsSpan(0, tokens * topk), [tokens, topk], device);
        int capacity = buffer.Backend == EpBackendKind.Host ? tokens : mine.Tokens;
        using FusedMoeResult result = buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, capacity, checked((int)(weights.NumLocalExperts * buffer.GroupSize)));
        return (result.Output.ToArray<BFloat16>(), result.ExpertRecvCount.ToArray<int>());
    }
}
