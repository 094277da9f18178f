using System.Diagnostics.Metrics;
using DeepEP.Cuda;

namespace DeepEP.Tests.Cuda;

/// <summary>
/// <see cref="DeviceWorkMeter"/>: the documented meter and instrument names a <see cref="MeterListener"/> (or
/// <c>dotnet-counters monitor --counters DeepEP</c>) subscribes to.
/// </summary>
public sealed class DeviceWorkMeterTests
{
    [Fact]
    public void TheMeterPublishesLaunchesAndCopiedBytes()
    {
        var seen = new List<(string Name, string? Unit)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == "DeepEP")
                {
                    lock (seen)
                    {
                        seen.Add((instrument.Name, instrument.Unit));
                    }
                }
            },
        };
        _ = DeviceWorkMeter.Launches;
        listener.Start();
        Assert.Contains(("deepep.kernel.launches", "{launch}"), seen);
        Assert.Contains(("deepep.memcpy.bytes", "By"), seen);
    }
}
