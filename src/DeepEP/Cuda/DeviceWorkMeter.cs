using System.Diagnostics.Metrics;

namespace DeepEP.Cuda;

/// <summary>
/// The library's device work as <see cref="System.Diagnostics.Metrics"/> instruments of the meter
/// <see cref="MeterName"/>: every kernel launch (tagged <c>kernel</c> with its name) and the bytes of every
/// <c>cuMemcpyAsync</c> the library issues. Read them with a <see cref="MeterListener"/> or <c>dotnet-counters</c>;
/// the measurement is taken on the thread that launches, so a listener can attribute work to a rank's thread. Without
/// a listener each instrument costs one branch.
/// </summary>
internal static class DeviceWorkMeter
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "DeepEP";

    /// <summary>The launch counter's name.</summary>
    public const string LaunchesName = "deepep.kernel.launches";

    /// <summary>The copied-bytes counter's name.</summary>
    public const string CopiedBytesName = "deepep.memcpy.bytes";

    private static readonly Meter s_meter = new(MeterName);

    /// <summary>Kernels launched, tagged <c>kernel</c>.</summary>
    public static Counter<long> Launches { get; } = s_meter.CreateCounter<long>(LaunchesName, "{launch}", "Kernels launched, tagged with the kernel's name.");

    /// <summary>Bytes copied by <c>cuMemcpyAsync</c> (device to device, or host and device through unified addresses).</summary>
    public static Counter<long> CopiedBytes { get; } = s_meter.CreateCounter<long>(CopiedBytesName, "By", "Bytes the library copied with cuMemcpyAsync.");
}
