using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>
/// The fused MoE layer on one rank: for each quant mode, random weights (<see cref="FusedWeights"/>), one checked call
/// of each fuse mode (received counts against the routing, the two modes bit for bit, the output against the host
/// backend: <see cref="FusedMoeCheck"/>; written out with <c>--dump</c>: <see cref="FusedDump"/>), then the time per layer of
/// each mode, measured as the low-latency bench does.
/// </summary>
internal static class FusedMoeBench
{
    /// <summary>Masked (-1) top-k slots per rank, as the low-latency bench sets.</summary>
    private const int MaskedSlots = 10;

    private static readonly FuseMode[] s_modes = [FuseMode.FusedDeepMoe, FuseMode.DispatchFfnCombine];

    public static IReadOnlyList<FusedMeasurement> Run(ProcessGroup group, BenchSettings s, Action<string>? progress)
    {
        int ranks = group.Size, rank = group.Rank, n = s.LowLatencyTokens, experts = s.LocalExperts * ranks;
        var options = new EpBufferOptions { Backend = s.Backend, ValidateExpertIds = false };
        using var buffer = new EpBuffer(group, 0, EpBuffer.GetLowLatencyRdmaSizeHint(n, s.Hidden, ranks, experts), lowLatencyMode: true, options);
        using FusedMoeCheck? check = s.Backend == EpBackendKind.Host ? null : new FusedMoeCheck(group, s, experts);
        int device = buffer.Device;
        BenchInputs Inputs(int r) => BenchInputs.Get(s.Seed + 2, r, n, s.Hidden, s.Topk, experts, MaskedSlots);
        BenchInputs mine = Inputs(rank);
        int[] expected = ExpectedCounts(rank, ranks, s.LocalExperts, Inputs);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(mine.X, [n, s.Hidden], device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(mine.TopkIdx, [n, s.Topk], device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(mine.TopkWeights, [n, s.Topk], device);

        var rows = new List<FusedMeasurement>();
        foreach (MoeQuantMode quant in s.FusedQuants)
        {
            progress?.Invoke($"fused layer, {FusedReport.QuantName(quant)} weights");
            using MoeExpertWeights weights = FusedWeights.Create(s.Seed, rank, s.LocalExperts, s.Hidden, s.Intermediate, quant, device);
            // The host backend's check and --dump read the same weights from host memory.
            using MoeExpertWeights? hostCopy = device == DeviceTensor.HostDevice || (check is null && s.Dump is null) ? null : weights.To(DeviceTensor.HostDevice);
            MoeExpertWeights host = hostCopy ?? weights;
            FusedMoeResult Call(FuseMode mode, DeviceTensor? output = null) => buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, n, experts, mode, @out: output);

            BFloat16[] fused, staged;
            int[] counts;
            using (FusedMoeResult once = Call(FuseMode.FusedDeepMoe))
            {
                (fused, counts) = (once.Output.ToArray<BFloat16>(), once.ExpertRecvCount.ToArray<int>());
            }
            using (FusedMoeResult once = Call(FuseMode.DispatchFfnCombine))
            {
                staged = once.Output.ToArray<BFloat16>();
            }
            if (s.Dump is { } dump)
            {
                FusedDump.Write(dump, s, rank, quant, mine, host, fused);
            }
            string problem =
                !counts.SequenceEqual(expected) ? $"received counts [{string.Join(", ", counts)}] differ from the routing's [{string.Join(", ", expected)}]"
                : !fused.Select(v => v.Bits).SequenceEqual(staged.Select(v => v.Bits)) ? "the two fuse modes' outputs differ"
                : buffer.Backend == EpBackendKind.Kernels && !Replayed(buffer, [n, s.Hidden], output => Call(FuseMode.FusedDeepMoe, output)).SequenceEqual(fused)
                    ? "a CUDA-graph replay's output differs from the eager call's"
                : "";
            (string? mismatch, string verdict) = check is null
                ? (null, "reference")
                : check.AgainstHost(buffer, mine, host, weights, quant);
            problem = problem.Length > 0 ? problem : mismatch ?? "";
            long bytes = FusedWeights.BytesRead(weights, counts.Count(c => c > 0));
            foreach (FuseMode mode in s_modes)
            {
                Timing timing = Timing.Measure(group, device, s.Warmups, s.Iterations, () => Call(mode).Dispose());
                rows.Add(new FusedMeasurement(quant, mode, timing, counts.Sum(), bytes, problem.Length == 0, problem.Length == 0 ? verdict : problem));
            }
        }
        return rows;
    }

    // The layer captured once into a CUDA graph (writing into an out tensor, poisoned first) and replayed once on the
    // same inputs. Equal to the eager output, so --dump's PyTorch check covers graph replays too. The kernels backend
    // only: the NCCL backend waits on the host in every dispatch, so it cannot be captured.
    private static BFloat16[] Replayed(EpBuffer buffer, long[] shape, Func<DeviceTensor, FusedMoeResult> call)
    {
        CudaStream stream = CudaStream.ForDevice(buffer.Device);
        using DeviceTensor output = DeviceTensor.Empty(DType.BFloat16, shape, buffer.Device);
        stream.Synchronize();
        using (CudaGraph graph = CudaGraph.Capture(stream, _ => call(output).Dispose()))
        {
            // Instantiation may wait for the whole GPU: no rank replays (and spins) before every rank has instantiated.
            buffer.Group.Barrier();
            output.FillBytes(0xFF, stream);
            graph.Launch(stream);
            stream.Synchronize();
        }
        return output.ToArray<BFloat16>();
    }

    // Rows each local expert of `rank` receives: every rank's unmasked slots that name it.
    private static int[] ExpectedCounts(int rank, int ranks, int localExperts, Func<int, BenchInputs> inputs)
    {
        var counts = new int[localExperts];
        for (int r = 0; r < ranks; r++)
        {
            foreach (long e in inputs(r).TopkIdx)
            {
                if (e >= 0 && e / localExperts == rank)
                {
                    counts[e % localExperts]++;
                }
            }
        }
        return counts;
    }
}
