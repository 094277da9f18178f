using DeepEP.Ep;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>What one rank measured for one (quant mode, fuse mode) of the fused layer.</summary>
/// <param name="Quant">Weight and activation format.</param>
/// <param name="Mode">Fuse mode.</param>
/// <param name="Timing">Time per layer call.</param>
/// <param name="Rows">Rows this rank's experts received (Σ ExpertRecvCount).</param>
/// <param name="WeightBytes">Weight and scale bytes the layer read on this rank.</param>
/// <param name="Correct">Whether every check held.</param>
/// <param name="Check">What was compared, and the worst difference.</param>
internal sealed record FusedMeasurement(MoeQuantMode Quant, FuseMode Mode, Timing Timing, long Rows, long WeightBytes, bool Correct, string Check);

/// <summary>
/// One row of the fused bench's tables: the fused layer on every rank (<paramref name="Ranks"/> ≥ 1) or the grouped
/// GEMMs alone (<paramref name="Ranks"/> = 0, <paramref name="Mode"/> null). Rows, bytes and FLOPs are per rank (the
/// ranks' mean), times the ranks' mean median.
/// </summary>
/// <param name="Operation">"fused layer" or "grouped GEMMs".</param>
/// <param name="Ranks">Ranks of the layer; 0 for the GEMMs alone (one GPU).</param>
/// <param name="Tokens">Tokens per rank (the layer), or rows per expert (the GEMMs).</param>
/// <param name="Hidden">H.</param>
/// <param name="Intermediate">I.</param>
/// <param name="LocalExperts">Experts per rank.</param>
/// <param name="Topk">Top-k (0 for the GEMMs alone).</param>
/// <param name="Mode">Fuse mode (null for the GEMMs alone).</param>
/// <param name="Quant">Format.</param>
/// <param name="Timing">Time per call, µs.</param>
/// <param name="Rows">Valid rows through the GEMMs per rank.</param>
/// <param name="WeightBytes">Weight and scale bytes read per call per rank.</param>
/// <param name="Correct">Whether every check held.</param>
/// <param name="Check">What was compared.</param>
internal sealed record FusedResult(string Operation, int Ranks, int Tokens, int Hidden, int Intermediate, int LocalExperts, int Topk,
    FuseMode? Mode, MoeQuantMode Quant, Timing Timing, double Rows, double WeightBytes, bool Correct, string Check)
{
    /// <summary>FLOPs of the two GEMMs per call per rank, valid rows only.</summary>
    public double Flops => FusedWeights.Flops(1, Hidden, Intermediate) * Rows;

    /// <summary>Weight bytes over the median time, TB/s (10¹² bytes per second).</summary>
    public double WeightTerabytesPerSecond => Timing.Median > 0 ? WeightBytes / (Timing.Median * 1e6) : 0;

    /// <summary>FLOPs over the median time, TFLOP/s.</summary>
    public double Teraflops => Timing.Median > 0 ? Flops / (Timing.Median * 1e6) : 0;

    /// <summary>Merges the ranks' measurements of each (quant, mode), in the order rank 0 measured them.</summary>
    public static List<FusedResult> Merge(IReadOnlyList<FusedMeasurement>[] perRank, BenchSettings s) =>
    [
        .. perRank[0].Select((first, i) =>
        {
            FusedMeasurement[] all = [.. perRank.Select(m => m[i])];
            FusedMeasurement? wrong = all.FirstOrDefault(m => !m.Correct);
            string check = wrong is null ? first.Check : $"rank {Array.IndexOf(all, wrong)}: {wrong.Check}";
            return new FusedResult("fused layer", s.Ranks, s.LowLatencyTokens, s.Hidden, s.Intermediate, s.LocalExperts, s.Topk, first.Mode, first.Quant,
                Timing.Merge(all.Select(m => m.Timing)), all.Average(m => (double)m.Rows), all.Average(m => (double)m.WeightBytes), wrong is null, check);
        }),
    ];
}
