using System.Diagnostics;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>Mean, fastest and slowest call, in microseconds.</summary>
internal readonly record struct Timing(double Mean, double Min, double Max)
{
    /// <summary>
    /// Runs <paramref name="warmups"/> untimed calls, then times <paramref name="iterations"/> calls, each started
    /// together on all ranks (a barrier before each). On a GPU a call is timed with CUDA events on the device's
    /// library stream (host-inclusive, as upstream's <c>bench</c>); on the host with a stopwatch.
    /// </summary>
    public static Timing Measure(ProcessGroup group, int device, int warmups, int iterations, Action call)
    {
        for (int i = 0; i < warmups; i++)
        {
            call();
        }
        CudaStream? stream = device == DeviceTensor.HostDevice ? null : CudaStream.ForDevice(device);
        stream?.Synchronize();
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            group.Barrier();
            samples[i] = stream is null ? TimeOnHost(call) : TimeOnDevice(stream, call);
        }
        return new Timing(samples.Average(), samples.Min(), samples.Max());
    }

    /// <summary>Combines the timings of all ranks: mean of means, overall min and max.</summary>
    public static Timing Merge(IEnumerable<Timing> perRank)
    {
        Timing[] all = perRank.ToArray();
        return new Timing(all.Average(t => t.Mean), all.Min(t => t.Min), all.Max(t => t.Max));
    }

    private static double TimeOnHost(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    private static double TimeOnDevice(CudaStream stream, Action call)
    {
        using var start = new CudaEvent(stream.Device, enableTiming: true);
        using var end = new CudaEvent(stream.Device, enableTiming: true);
        start.Record(stream);
        call();
        end.Record(stream);
        end.Synchronize();
        return CudaEvent.ElapsedMilliseconds(start, end) * 1e3;
    }
}
