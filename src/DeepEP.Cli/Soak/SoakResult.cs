namespace DeepEP.Cli.Soak;

/// <summary>What one rank's soak ended with.</summary>
/// <param name="Rank">The rank.</param>
/// <param name="Iterations">Iterations completed.</param>
/// <param name="Failures">Iterations whose results were wrong, plus one if an exception stopped the rank.</param>
/// <param name="FirstFailure">The first wrong result or exception, or null.</param>
/// <param name="WarmBytes">Resident memory of the process after warm-up (bytes), or 0 if the warm-up did not finish.</param>
/// <param name="EndBytes">Resident memory of the process at the end (bytes).</param>
/// <param name="Seconds">Wall time of the rank's iterations.</param>
internal sealed record SoakResult(int Rank, int Iterations, int Failures, string? FirstFailure, long WarmBytes, long EndBytes, double Seconds)
{
    /// <summary>Growth of resident memory from warm-up to the end, as a fraction of the warm figure.</summary>
    public double MemoryGrowth => WarmBytes > 0 ? (double)(EndBytes - WarmBytes) / WarmBytes : 0;
}
