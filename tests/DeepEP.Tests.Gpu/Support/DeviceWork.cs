using System.Diagnostics.Metrics;
using System.Globalization;
using DeepEP.Cuda;

namespace DeepEP.Tests.Gpu.Support;

/// <summary>
/// The device work one thread asks for while <see cref="Record"/> runs, read from the library's meter
/// (<see cref="DeviceWorkMeter"/>): kernel launches by name and bytes copied. Measurements arrive on the launching
/// thread, so ranks as threads each see only their own.
/// </summary>
internal sealed class DeviceWork
{
    [ThreadStatic]
    private static DeviceWork? t_recording;

    private static readonly MeterListener s_listener = Listen();

    /// <summary>Launches per kernel name.</summary>
    public SortedDictionary<string, long> Launches { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes copied with <c>cuMemcpyAsync</c>.</summary>
    public long CopiedBytes { get; private set; }

    /// <summary>Runs <paramref name="work"/> and returns what it launched and copied on this thread.</summary>
    public static DeviceWork Record(Action work)
    {
        GC.KeepAlive(s_listener);
        var tally = new DeviceWork();
        t_recording = tally;
        try
        {
            work();
        }
        finally
        {
            t_recording = null;
        }
        return tally;
    }

    /// <summary>"copied N", then one "count kernel" line per kernel: what <see cref="Parse"/> reads back.</summary>
    public string Describe() =>
        string.Join('\n', Launches.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k.Value} {k.Key}")).Prepend(string.Create(CultureInfo.InvariantCulture, $"copied {CopiedBytes}")));

    public static DeviceWork Parse(string text)
    {
        var work = new DeviceWork();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ', 2);
            if (parts[0] == "copied")
            {
                work.CopiedBytes = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            else
            {
                work.Launches[parts[1]] = long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }
        return work;
    }

    private static MeterListener Listen()
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DeviceWorkMeter.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>(OnMeasurement);
        listener.Start();
        return listener;
    }

    private static void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (t_recording is not { } tally)
        {
            return;
        }
        if (instrument.Name == DeviceWorkMeter.LaunchesName)
        {
            string kernel = tags[0].Value as string ?? "?";
            tally.Launches[kernel] = tally.Launches.GetValueOrDefault(kernel) + value;
        }
        else
        {
            tally.CopiedBytes += value;
        }
    }
}
