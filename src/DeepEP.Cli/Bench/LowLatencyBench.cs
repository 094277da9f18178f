using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Low-latency benchmark of one rank (spec §6.3): FP8 dispatch, BF16 and LogFMT-10 combine of the identity expert, and
/// the pair end to end; results checked against inputs regenerated from the seed.
/// </summary>
internal static class LowLatencyBench
{
    private const string Mode = "low-latency";

    /// <summary>Masked (-1) top-k slots per rank, as upstream's test sets.</summary>
    private const int MaskedSlots = 10;

    public static IReadOnlyList<RankMeasurement> Run(EpBuffer buffer, BenchSettings s)
    {
        int rank = buffer.Rank;
        int device = buffer.Device;
        int n = s.LowLatencyTokens;
        BenchInputs Inputs(int r) => BenchInputs.Get(s.Seed + 1, r, n, s.Hidden, s.Topk, s.LowLatencyExperts, MaskedSlots);
        BenchInputs mine = Inputs(rank);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(mine.X, [n, s.Hidden], device);
        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(mine.TopkIdx, [n, s.Topk], device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(mine.TopkWeights, [n, s.Topk], device);

        LowLatencyDispatchResult Dispatch() => buffer.LowLatencyDispatch(x, topkIdx, n, s.LowLatencyExperts, useFp8: true);
        using LowLatencyDispatchResult dispatched = Dispatch();
        using LowLatencyHandle handle = dispatched.Handle;
        string dispatchError = LowLatencyChecks.Dispatch(dispatched, rank, buffer.GroupSize, Inputs);
        using DeviceTensor expertOutput = LowLatencyChecks.CastBack(dispatched, device);
        LowLatencyCombineResult Combine(LowLatencyDispatchResult d) => buffer.LowLatencyCombine(expertOutput, topkIdx, topkWeights, d.Handle);
        using LowLatencyCombineResult combined = Combine(dispatched);
        string combineError = LowLatencyChecks.Combine(combined, mine);

        long selections = mine.TopkIdx.LongCount(e => e >= 0);
        long messageBytes = s.Hidden + (s.Hidden / 128 * 4) + 16;
        long dispatchBytes = selections * messageBytes;
        long combineBytes = selections * s.Hidden * 2;
        void Pair()
        {
            using LowLatencyDispatchResult d = Dispatch();
            using LowLatencyHandle h = d.Handle;
            Combine(d).Dispose();
        }
        Timing pairTime = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, Pair);
        bool dispatchRight = dispatchError.Length == 0, combineRight = combineError.Length == 0;
        var rows = new List<RankMeasurement>
        {
            new("dispatch FP8", Mode, 0, Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () =>
            {
                using LowLatencyDispatchResult d = Dispatch();
                d.Handle.Dispose();
            }), dispatchBytes, dispatchRight, dispatchRight ? "bit-exact payloads and counts" : dispatchError),
            new("combine BF16", Mode, 0, Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => Combine(dispatched).Dispose()), combineBytes,
                combineRight, combineRight ? "Σ w·x, calc_diff < 1e-5" : combineError),
            new("dispatch + combine", Mode, 0, pairTime, dispatchBytes + combineBytes, dispatchRight && combineRight, "both of the above"),
            new("host CPU per dispatch + combine", Mode, 0, Timing.MeasureHost(s.Warmups, s.Iterations, Pair), 0, true, "time the host spends"),
        };
        if (buffer.Backend == EpBackendKind.Host ? LogFmt10.Supports(s.Hidden) : LogFmtCodecRuntime.Supports(s.Hidden))
        {
            // Upstream's accounting: every row as if fully encoded (H × 10 / 8 + 4S bytes; stages with |x| ≥ 1 go raw).
            // The NCCL backend moves whole 4S + 2H slots (NCCL takes its sizes before the encoder runs).
            LowLatencyCombineResult Logfmt() => buffer.LowLatencyCombine(expertOutput, topkIdx, topkWeights, dispatched.Handle, useLogfmt: true);
            string logfmtError;
            using (LowLatencyCombineResult once = Logfmt())
            {
                logfmtError = LowLatencyChecks.Combine(once, mine, limit: 1e-3);
            }
            rows.Insert(2, new("combine LogFMT-10", Mode, 0, Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => Logfmt().Dispose()),
                selections * LogFmt10.EncodedBytes(s.Hidden), logfmtError.Length == 0,
                logfmtError.Length > 0 ? logfmtError : buffer.Backend == EpBackendKind.Nccl ? "Σ w·decoded x, calc_diff < 1e-3; sends 4S + 2H slots" : "Σ w·decoded x, calc_diff < 1e-3"));
        }
        // The NCCL backend waits on the host in every dispatch, so it cannot be captured.
        if (device != DeviceTensor.HostDevice && buffer.Backend != EpBackendKind.Nccl)
        {
            // The same calls captured once and replayed: the GPU's own time, with the host's per-call work removed.
            Timing Replayed(Action call)
            {
                CudaStream stream = CudaStream.ForDevice(device);
                stream.Synchronize();
                using CudaGraph graph = CudaGraph.Capture(stream, _ => call());
                return Timing.Measure(buffer.Group, device, s.Warmups, s.Iterations, () => graph.Launch(stream));
            }
            rows.Add(new("dispatch FP8 (CUDA graph)", Mode, 0, Replayed(() =>
            {
                using LowLatencyDispatchResult d = Dispatch();
                d.Handle.Dispose();
            }), dispatchBytes, dispatchRight, "replays of one captured call"));
            rows.Add(new("combine BF16 (CUDA graph)", Mode, 0, Replayed(() => Combine(dispatched).Dispose()), combineBytes, combineRight, "replays of one captured call"));
            rows.Add(new("dispatch + combine (CUDA graph)", Mode, 0, Replayed(Pair), dispatchBytes + combineBytes, dispatchRight && combineRight, "replays of one captured pair"));
        }
        if (device != DeviceTensor.HostDevice)
        {

            // Hook mode: the send phases now, the receive phases when their hooks run (spec §6.3, send/recv times).
            (Timing dispatchSend, Timing dispatchRecv) = Timing.MeasurePhases(buffer.Group, device, s.Warmups, s.Iterations, () =>
            {
                LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topkIdx, n, s.LowLatencyExperts, useFp8: true, returnRecvHook: true);
                return () =>
                {
                    d.Hook!();
                    d.Dispose();
                    d.Handle.Dispose();
                };
            });
            (Timing combineSend, Timing combineRecv) = Timing.MeasurePhases(buffer.Group, device, s.Warmups, s.Iterations, () =>
            {
                LowLatencyCombineResult c = buffer.LowLatencyCombine(expertOutput, topkIdx, topkWeights, handle, returnRecvHook: true);
                return () =>
                {
                    c.Hook!();
                    c.Dispose();
                };
            });
            rows.Add(new("dispatch send (hook)", Mode, 0, dispatchSend, dispatchBytes, dispatchRight, "send phase only"));
            rows.Add(new("dispatch recv (hook)", Mode, 0, dispatchRecv, dispatchBytes, dispatchRight, "receive phase, run by the hook"));
            rows.Add(new("combine send (hook)", Mode, 0, combineSend, combineBytes, combineRight, "send phase only"));
            rows.Add(new("combine recv (hook)", Mode, 0, combineRecv, combineBytes, combineRight, "receive phase, run by the hook"));
            if (!RankPlacement.SharesGpu(buffer))
            {
                rows.Add(NcclBaseline.RunLowLatency(buffer, s, mine, Inputs, dispatchBytes, messageBytes));
            }
        }
        return rows;
    }
}
