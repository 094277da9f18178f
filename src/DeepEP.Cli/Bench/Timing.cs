using System.Diagnostics;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>Mean, fastest, slowest and median call, in microseconds.</summary>
internal readonly record struct Timing(double Mean, double Min, double Max, double Median = 0)
{
    /// <summary>
    /// Runs <paramref name="warmups"/> untimed calls, then times <paramref name="iterations"/> calls. On a GPU this is
    /// upstream's <c>bench</c> method: the calls are queued back to back on the device's library stream with a CUDA
    /// event between consecutive calls, and each sample is the time between two events (host work overlaps with the
    /// previous call, as in a training loop). On the host each call is timed with a stopwatch after a barrier.
    /// </summary>
    public static Timing Measure(ProcessGroup group, int device, int warmups, int iterations, Action call)
    {
        for (int i = 0; i < warmups; i++)
        {
            call();
        }
        double[] samples = device == DeviceTensor.HostDevice
            ? TimeOnHost(group, iterations, call)
            : TimeOnDevice(group, CudaStream.ForDevice(device), iterations, call);
        return Of(samples);
    }

    /// <summary>
    /// Times the two phases of a split call on a GPU: <paramref name="call"/> runs the first phase and returns the second
    /// (a receive hook); events before, between and after give one sample of each per call.
    /// </summary>
    public static (Timing First, Timing Second) MeasurePhases(ProcessGroup group, int device, int warmups, int iterations, Func<Action> call)
    {
        for (int i = 0; i < warmups; i++)
        {
            call()();
        }
        CudaStream stream = CudaStream.ForDevice(device);
        var marks = new CudaEvent[(2 * iterations) + 1];
        try
        {
            stream.Synchronize();
            group.Barrier();
            for (int i = 0; i < marks.Length; i++)
            {
                marks[i] = new CudaEvent(device, enableTiming: true);
            }
            marks[0].Record(stream);
            for (int i = 0; i < iterations; i++)
            {
                Action second = call();
                marks[(2 * i) + 1].Record(stream);
                second();
                marks[(2 * i) + 2].Record(stream);
            }
            marks[^1].Synchronize();
            double[] Samples(int phase) => Enumerable.Range(0, iterations)
                .Select(i => CudaEvent.ElapsedMilliseconds(marks[(2 * i) + phase], marks[(2 * i) + phase + 1]) * 1e3).ToArray();
            return (Of(Samples(0)), Of(Samples(1)));
        }
        finally
        {
            foreach (CudaEvent? mark in marks)
            {
                mark?.Dispose();
            }
        }
    }

    /// <summary>Host time per call: <paramref name="iterations"/> calls queued back to back, averaged (the GPU is not waited for).</summary>
    public static Timing MeasureHost(int warmups, int iterations, Action call)
    {
        for (int i = 0; i < warmups; i++)
        {
            call();
        }
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return Of(samples);
    }

    /// <summary>Combines the timings of all ranks: mean of means, overall min and max, mean of medians.</summary>
    public static Timing Merge(IEnumerable<Timing> perRank)
    {
        Timing[] all = perRank.ToArray();
        return new Timing(all.Average(t => t.Mean), all.Min(t => t.Min), all.Max(t => t.Max), all.Average(t => t.Median));
    }

    private static Timing Of(double[] samples)
    {
        double[] sorted = [.. samples.Order()];
        int middle = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new(samples.Average(), samples.Min(), samples.Max(), median);
    }

    private static double[] TimeOnHost(ProcessGroup group, int iterations, Action call)
    {
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            group.Barrier();
            long start = Stopwatch.GetTimestamp();
            call();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return samples;
    }

    private static double[] TimeOnDevice(ProcessGroup group, CudaStream stream, int iterations, Action call)
    {
        var marks = new CudaEvent[iterations + 1];
        try
        {
            stream.Synchronize();
            group.Barrier();
            for (int i = 0; i <= iterations; i++)
            {
                marks[i] = new CudaEvent(stream.Device, enableTiming: true);
                marks[i].Record(stream);
                if (i < iterations)
                {
                    call();
                }
            }
            marks[iterations].Synchronize();
            return Enumerable.Range(0, iterations).Select(i => CudaEvent.ElapsedMilliseconds(marks[i], marks[i + 1]) * 1e3).ToArray();
        }
        finally
        {
            foreach (CudaEvent? mark in marks)
            {
                mark?.Dispose();
            }
        }
    }
}
