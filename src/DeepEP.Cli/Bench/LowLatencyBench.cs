using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Low-latency benchmark of one rank (spec §6.3): FP8 dispatch, BF16 combine of the identity expert, and the
/// pair end to end; results checked against inputs regenerated from the seed.
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
        long dispatchBytes = selections * (s.Hidden + (s.Hidden / 128 * 4) + 16);
        long combineBytes = selections * s.Hidden * 2;
        Timing pairTime = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () =>
        {
            using LowLatencyDispatchResult d = Dispatch();
            using LowLatencyHandle h = d.Handle;
            Combine(d).Dispose();
        });
        return
        [
            new RankMeasurement("dispatch FP8", Mode, 0, Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () =>
            {
                using LowLatencyDispatchResult d = Dispatch();
                d.Handle.Dispose();
            }), dispatchBytes,
                dispatchError.Length == 0, dispatchError.Length == 0 ? "counts, ranges, bit-exact payloads" : dispatchError),
            new RankMeasurement("combine BF16", Mode, 0, Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => Combine(dispatched).Dispose()), combineBytes,
                combineError.Length == 0, combineError.Length == 0 ? "Σ w·x vs float64, calc_diff < 1e-5" : combineError),
            new RankMeasurement("dispatch + combine", Mode, 0, pairTime, dispatchBytes + combineBytes, dispatchError.Length + combineError.Length == 0, "both of the above"),
        ];
    }
}
