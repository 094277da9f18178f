using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Normal-mode benchmark of one rank (spec §6.2): layout, dispatch FP8 and BF16 (timed as cached dispatches, as
/// upstream does), combine; each result checked against inputs regenerated from the seed.
/// </summary>
internal static class NormalModeBench
{
    private const string Mode = "normal";

    public static IReadOnlyList<RankMeasurement> Run(EpBuffer buffer, BenchSettings s)
    {
        int rank = buffer.Rank;
        int ranks = buffer.GroupSize;
        int device = buffer.Device;
        int localExperts = s.Experts / ranks;
        BenchInputs Inputs(int r) => BenchInputs.Get(s.Seed, r, s.Tokens, s.Hidden, s.Topk, s.Experts);
        BenchInputs mine = Inputs(rank);
        int sms = device == DeviceTensor.HostDevice ? 0 : s.NumSms;
        EpConfig config = s.DispatchConfig;
        EpConfig combineConfig = s.CombineConfig;
        var results = new List<RankMeasurement>();

        using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(mine.TopkIdx, [s.Tokens, s.Topk], device);
        using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(mine.TopkWeights, [s.Tokens, s.Topk], device);
        using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(mine.X, [s.Tokens, s.Hidden], device);
        using Fp8Tensor fp8 = CastToFp8ColumnMajorScales(mine, device);

        using DispatchLayout layout = buffer.GetDispatchLayout(topkIdx, s.Experts);
        Timing layoutTime = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.GetDispatchLayout(topkIdx, s.Experts).Dispose());
        string layoutError = NormalChecks.Layout(layout, mine, ranks, s.Experts);
        results.Add(new RankMeasurement("layout", Mode, 0, layoutTime, 0, layoutError.Length == 0, Describe(layoutError, "counts vs topk")));

        var expected = NormalChecks.ExpectedReceives(rank, ranks, localExperts, Inputs);
        long received = expected.Count;

        // Each checked result but bf16's (combine's input) is disposed once checked: with one process per GPU results
        // hold slots of the receive arena (three in all).
        DispatchResult fp8Result = buffer.Dispatch(fp8.Data, fp8.Scales, layout, topkIdx: topkIdx, topkWeights: topkWeights, config: config);
        string fp8Error = NormalChecks.Fp8Dispatch(fp8Result, expected, Inputs);
        using DispatchHandle fp8Handle = fp8Result.Handle!;
        fp8Result.Dispose();
        Timing fp8Time = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.Dispatch(fp8.Data, fp8.Scales, fp8Handle, config: config).Dispose());
        long fp8Bytes = received * s.Hidden * (128 + 4) / 128;
        results.Add(new RankMeasurement("dispatch FP8", Mode, sms, fp8Time, fp8Bytes, fp8Error.Length == 0, Describe(fp8Error, "bit-exact rows, scales, order")));

        using DispatchResult bf16Result = buffer.Dispatch(x, layout, topkIdx: topkIdx, topkWeights: topkWeights, config: config);
        string bf16Error = NormalChecks.Bf16Dispatch(bf16Result, expected, Inputs, rank, localExperts);
        using DispatchHandle handle = bf16Result.Handle!;
        Timing bf16Time = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.Dispatch(x, handle, config: config).Dispose());
        long bf16Bytes = received * s.Hidden * 2;
        results.Add(new RankMeasurement("dispatch BF16", Mode, sms, bf16Time, bf16Bytes, bf16Error.Length == 0, Describe(bf16Error, "bit-exact rows, top-k, order")));

        // DeepEP-Ascend's INT8 quantisation inside dispatch, timed as a cached dispatch (cast + dispatch).
        DispatchResult int8Result = buffer.Dispatch(x, layout, topkIdx: topkIdx, topkWeights: topkWeights, config: config, useInt8Quant: true);
        string int8Error = NormalChecks.Int8Dispatch(int8Result, expected, Inputs);
        using DispatchHandle int8Handle = int8Result.Handle!;
        int8Result.Dispose();
        Timing int8Time = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.Dispatch(x, int8Handle, config: config, useInt8Quant: true).Dispose());
        results.Add(new RankMeasurement("dispatch INT8 (quantised)", Mode, sms, int8Time, received * (s.Hidden + 4), int8Error.Length == 0, Describe(int8Error, "bit-exact Int8Cast rows, scales")));

        // V2's expanded layout for a grouped GEMM (segments aligned to 128 rows, zero padding), timed as a cached dispatch.
        DispatchResult expandedResult = buffer.Dispatch(x, layout, topkIdx: topkIdx, topkWeights: topkWeights, expertAlignment: 128, config: config,
            doExpand: true, doZeroPadding: true);
        string expandedError = NormalChecks.Expanded(expandedResult);
        using DispatchHandle expandedHandle = expandedResult.Handle!;
        expandedResult.Dispose();
        Timing expandedTime = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.Dispatch(x, expandedHandle, config: config).Dispose());
        results.Add(new RankMeasurement("dispatch BF16 expanded", Mode, sms, expandedTime, bf16Bytes, expandedError.Length == 0,
            Describe(expandedError, "rows per expert, aligned, zero padding")));

        using CombineResult combined = buffer.Combine(bf16Result.RecvX, handle, config: combineConfig);
        string combineError = NormalChecks.IdentityCombine(combined, mine, ranks, localExperts);
        Timing combineTime = Timing.Measure(buffer.Group, buffer.Device, s.Warmups, s.Iterations, () => buffer.Combine(bf16Result.RecvX, handle, config: combineConfig).Dispose());
        results.Add(new RankMeasurement("combine BF16", Mode, sms, combineTime, bf16Bytes, combineError.Length == 0, Describe(combineError, "x × ranks reached, bit-exact")));
        // NCCL refuses two ranks on one GPU: no baseline when ranks share one.
        if (device != DeviceTensor.HostDevice && !RankPlacement.SharesGpu(buffer))
        {
            results.Add(NcclBaseline.Run(buffer, s, mine, Inputs, bf16Bytes));
        }
        return results;
    }

    private static Fp8Tensor CastToFp8ColumnMajorScales(BenchInputs inputs, int device)
    {
        using DeviceTensor hostX = DeviceTensor.FromArray<BFloat16>(inputs.X, [inputs.Tokens, inputs.Hidden]);
        using Fp8Tensor cast = Fp8Cast.PerTokenCast(hostX);
        long groups = cast.Scales.Size(1);
        // Upstream's test passes column-major scales (strides (1, T)); do the same to exercise strided reads.
        DeviceTensor scales = DeviceTensor.EmptyStrided(DType.Float32, [inputs.Tokens, groups], [1, inputs.Tokens], device);
        scales.Transpose(0, 1).CopyFrom<float>(cast.Scales.Transpose(0, 1).ToArray<float>());
        return new Fp8Tensor(cast.Data.To(device), scales);
    }

    private static string Describe(string error, string what) => error.Length == 0 ? what : error;
}
