namespace DeepEP.Cli.Bench;

/// <summary>One measured operation, as printed and written to JSON.</summary>
/// <param name="Operation">E.g. "dispatch BF16".</param>
/// <param name="Mode">"normal" or "low-latency".</param>
/// <param name="Backend">Engine name.</param>
/// <param name="Ranks">Ranks taking part.</param>
/// <param name="Sms">SMs used (0 where it does not apply).</param>
/// <param name="MeanMicroseconds">Mean time per call over ranks and iterations.</param>
/// <param name="MinMicroseconds">Fastest call.</param>
/// <param name="MaxMicroseconds">Slowest call.</param>
/// <param name="Bytes">Bytes counted as upstream counts them (spec §6.2/§6.3), rank 0's.</param>
/// <param name="Correct">Whether every rank's result matched the reference.</param>
/// <param name="Check">What was compared, and the worst difference.</param>
internal sealed record BenchResult(
    string Operation,
    string Mode,
    string Backend,
    int Ranks,
    int Sms,
    double MeanMicroseconds,
    double MinMicroseconds,
    double MaxMicroseconds,
    long Bytes,
    bool Correct,
    string Check)
{
    /// <summary>Bytes / mean time, in GB/s (10^9 bytes per second).</summary>
    public double GigabytesPerSecond => MeanMicroseconds > 0 ? Bytes / (MeanMicroseconds * 1e3) : 0;
}
