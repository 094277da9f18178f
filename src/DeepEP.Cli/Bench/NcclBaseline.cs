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
        long[] sendCounts = Enumerable.Range(0, ranks)
            .Select(d => (long)Enumerable.Range(0, mine.Tokens).Count(t => mine.SelectsRank(t, d, localExperts)) * s.Hidden).ToArray();
        long[] recvCounts = Enumerable.Range(0, ranks)
            .Select(src => (long)Enumerable.Range(0, inputs(src).Tokens).Count(t => inputs(src).SelectsRank(t, buffer.Rank, localExperts)) * s.Hidden).ToArray();
        using NcclCommunicator nccl = NcclCommunicator.Create(buffer.Group, buffer.Device, EpEnvironment.Current.Timeout);
        using DeviceTensor send = DeviceTensor.Empty(DType.BFloat16, [Math.Max(1, sendCounts.Sum())], buffer.Device);
        using DeviceTensor recv = DeviceTensor.Empty(DType.BFloat16, [Math.Max(1, recvCounts.Sum())], buffer.Device);
        CudaStream stream = CudaStream.ForDevice(buffer.Device);
        Timing timing = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations,
            () => nccl.AllToAllV(send.Pointer, sendCounts, recv.Pointer, recvCounts, elementSize: 2, stream));
        return new RankMeasurement("NCCL all-to-all BF16 (baseline)", "normal", 0, timing, recvBytes, true, "same rows, pre-packed per destination");
    }
}
