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

    /// <summary>The device's memory pool reserved bytes after warm-up (<c>CudaDevice.PoolReservedBytes</c>), or 0 on the host backend or before warm-up.</summary>
    public long DevicePoolWarmBytes { get; init; }

    /// <summary>The device's memory pool reserved bytes at the end, or 0 on the host backend or after a failure.</summary>
    public long DevicePoolEndBytes { get; init; }

    /// <summary>Whether the device pool grew after warm-up (it must not: every call's tensors are freed and reused).</summary>
    public bool DevicePoolGrew => DevicePoolWarmBytes > 0 && DevicePoolEndBytes > DevicePoolWarmBytes;
}
