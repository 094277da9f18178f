using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Interop;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// What a user would pick instead: NCCL's all-to-all of the same BF16 rows (already packed per destination, as the
/// baseline's "a2a-only" figure), measured in the same run as our kernels, with the same byte count.
/// </summary>
internal static class NcclBaseline
{
    public static RankMeasurement Run(EpBuffer buffer, BenchSettings s, BenchInputs mine, Func<int, BenchInputs> inputs, long recvBytes)
    {
        int ranks = buffer.GroupSize;
        int localExperts = s.Experts / ranks;
        long rowBytes = s.Hidden * 2L;
        long[] sendBytes = Enumerable.Range(0, ranks)
            .Select(d => Enumerable.Range(0, mine.Tokens).Count(t => mine.SelectsRank(t, d, localExperts)) * rowBytes).ToArray();
        long[] receiveBytes = Enumerable.Range(0, ranks)
            .Select(src => Enumerable.Range(0, inputs(src).Tokens).Count(t => inputs(src).SelectsRank(t, buffer.Rank, localExperts)) * rowBytes).ToArray();
        Timing timing = Measure(buffer, s, sendBytes, receiveBytes);
        return new RankMeasurement("NCCL all-to-all BF16 (baseline)", "normal", 0, timing, recvBytes, true, "same rows, pre-packed per destination");
    }

    /// <summary>
    /// Low-latency: NCCL moving the same FP8 messages as the dispatch (one per valid top-k slot, packed per
    /// destination rank), counted with the same bytes.
    /// </summary>
    public static RankMeasurement RunLowLatency(EpBuffer buffer, BenchSettings s, BenchInputs mine, Func<int, BenchInputs> inputs, long countedBytes, long messageBytes)
    {
        int ranks = buffer.GroupSize;
        int localExperts = s.LowLatencyExperts / ranks;
        long Selections(BenchInputs from, int d) => from.TopkIdx.LongCount(e => e >= 0 && e / localExperts == d);
        long[] sendBytes = Enumerable.Range(0, ranks).Select(d => Selections(mine, d) * messageBytes).ToArray();
        long[] receiveBytes = Enumerable.Range(0, ranks).Select(src => Selections(inputs(src), buffer.Rank) * messageBytes).ToArray();
        Timing timing = Measure(buffer, s, sendBytes, receiveBytes);
        return new RankMeasurement("NCCL all-to-all FP8 messages (baseline)", "low-latency", 0, timing, countedBytes, true, "same messages, pre-packed per destination");
    }

    private static Timing Measure(EpBuffer buffer, BenchSettings s, long[] sendBytes, long[] receiveBytes)
    {
        using NcclCommunicator nccl = NcclCommunicator.Create(buffer.Group, buffer.Device, EpEnvironment.Current.Timeout, CommunicationTimeoutException.ForNccl);
        CudaStream stream = CudaStream.ForDevice(buffer.Device);
        // Zeroed, not empty: the values do not change NCCL's time, and uninitialised bytes would be all that
        // compute-sanitizer's initcheck reports.
        using DeviceTensor send = DeviceTensor.Zeros(DType.UInt8, [Math.Max(1, sendBytes.Sum())], buffer.Device, stream);
        using DeviceTensor recv = DeviceTensor.Empty(DType.UInt8, [Math.Max(1, receiveBytes.Sum())], buffer.Device);
        return Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations,
            () => nccl.AllToAllV(send.Pointer, sendBytes, recv.Pointer, receiveBytes, elementSize: 1, stream));
    }
}
