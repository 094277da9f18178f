using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// V2's expanded layout (<c>doExpand</c>) on one rank's inputs — zero-padded and not, host-synchronised and worst case,
/// BF16 and FP8, cached, and combine of expanded rows — recorded as byte snapshots for <see cref="BackendComparison"/>.
/// Padding rows that are not zeroed are left out (their bytes are unspecified; the pool is poisoned before a GPU run).
/// </summary>
internal static class ExpandedScenario
{
    public static Dictionary<string, byte[]> Run(EpBuffer buffer, NormalRun run)
    {
        (NormalCase c, int expertAlignment, int numSms, bool asyncFinish) = run;
        int device = buffer.Device;
        RankInputs inputs = c.For(buffer.Rank);
        var snapshot = new Dictionary<string, byte[]>();
        var config = new EpConfig(numSms, 6, 256);
        using DeviceTensor x = inputs.XOn(device);
        using DeviceTensor topk = inputs.TopkOn(device);
        using DeviceTensor weights = inputs.WeightsOn(device);
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, c.Experts);

        using DispatchResult zeroed = buffer.Dispatch(x, layout, topk, weights, expertAlignment, config: config, asyncFinish: asyncFinish,
            doExpand: true, doZeroPadding: true);
        Wait(zeroed.Event);
        using DispatchHandle handle = zeroed.Handle!;
        Record(snapshot, "zeroed", zeroed.Expanded!, handle.Expansion!, padded: true);

        using DispatchResult cached = buffer.Dispatch(x, handle, config: config);
        snapshot["cached.x"] = NormalScenario.Bytes(cached.Expanded!.X);

        int worstRows = (c.Tokens * buffer.GroupSize) + 1;
        using DispatchResult worst = buffer.Dispatch(x, layout, topk, weights, expertAlignment, worstRows, config, doExpand: true, doZeroPadding: true);
        using DispatchHandle worstHandle = worst.Handle!;
        Record(snapshot, "worst", worst.Expanded!, worstHandle.Expansion!, padded: true);

        using DeviceTensor hostX = inputs.XOn(DeviceTensor.HostDevice);
        using Fp8Tensor cast = Fp8Cast.PerTokenCast(hostX);
        using DeviceTensor fp8 = cast.Data.To(device);
        using DeviceTensor scales = cast.Scales.To(device);
        using DispatchResult fp8Result = buffer.Dispatch(fp8, scales, layout, topk, weights, expertAlignment: 8, config: config, doExpand: true);
        using DispatchHandle fp8Handle = fp8Result.Handle!;
        Record(snapshot, "fp8", fp8Result.Expanded!, fp8Handle.Expansion!, padded: false);

        // Combine reads only the rows the layout names: the unpadded dispatch's padding rows hold poison on the GPU.
        using DispatchResult loose = buffer.Dispatch(x, layout, topk, weights, expertAlignment: 8, config: config, doExpand: true);
        using DispatchHandle looseHandle = loose.Handle!;
        using CombineResult combined = buffer.Combine(loose.Expanded!.X, looseHandle, loose.Expanded.TopkWeights, config: config, asyncFinish: asyncFinish);
        Wait(combined.Event);
        snapshot["combine.x"] = NormalScenario.Bytes(combined.CombinedX);
        snapshot["combine.topkWeights"] = NormalScenario.Bytes(combined.CombinedTopkWeights!);
        using CombineResult zeroedCombined = buffer.Combine(zeroed.Expanded!.X, handle, config: config);
        snapshot["combineZeroed.x"] = NormalScenario.Bytes(zeroedCombined.CombinedX);
        return snapshot;
    }

    private static void Record(Dictionary<string, byte[]> snapshot, string name, ExpandedRows rows, ExpertExpansion expansion, bool padded)
    {
        int[] src = expansion.SrcRowSlot.ToArray<int>();
        snapshot[$"{name}.counts"] = NormalScenario.Bytes(expansion.NumRecvTokensPerExpert);
        snapshot[$"{name}.psum"] = NormalScenario.Bytes(expansion.PsumNumRecvTokensPerExpert);
        snapshot[$"{name}.srcRowSlot"] = NormalScenario.Bytes(expansion.SrcRowSlot);
        snapshot[$"{name}.expandedRowOf"] = NormalScenario.Bytes(expansion.ExpandedRowOf);
        snapshot[$"{name}.x"] = Rows(rows.X, src, padded);
        snapshot[$"{name}.topkWeights"] = NormalScenario.Bytes(rows.TopkWeights!);
        if (rows.XScales is not null)
        {
            snapshot[$"{name}.xScales"] = Rows(rows.XScales, src, padded);
        }
    }

    // The rows' bytes, padding rows blanked unless they were zeroed by the layout.
    private static byte[] Rows(DeviceTensor t, int[] src, bool padded)
    {
        byte[] bytes = NormalScenario.Bytes(t);
        int rowBytes = checked((int)(t.Size(1) * t.DType.ElementSize()));
        for (int p = 0; !padded && p < src.Length / 2; p++)
        {
            if (src[2 * p] < 0)
            {
                bytes.AsSpan(p * rowBytes, rowBytes).Clear();
            }
        }
        return bytes;
    }

    private static void Wait(EventOverlap e)
    {
        if (e.Event is not null)
        {
            e.CurrentStreamWait();
        }
    }
}
