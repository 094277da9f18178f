using DeepEP.Ep;
using DeepEP.Tensors;
using static DeepEP.Tests.Gpu.Normal.NormalScenarioSetUp;

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
        (NormalCase c, int expertAlignment, _, bool asyncFinish) = run;
        using var setUp = new NormalScenarioSetUp(buffer, run);
        var snapshot = new Dictionary<string, byte[]>();
        using DispatchLayout layout = buffer.GetDispatchLayout(setUp.Topk, c.Experts);

        using DispatchResult zeroed = buffer.Dispatch(setUp.X, layout, setUp.Topk, setUp.Weights, expertAlignment, config: setUp.Config, asyncFinish: asyncFinish,
            doExpand: true, doZeroPadding: true);
        Wait(zeroed.Event);
        using DispatchHandle handle = zeroed.Handle!;
        Record(snapshot, "zeroed", zeroed.Expanded!, handle.Expansion!, padded: true);

        using DispatchResult cached = buffer.Dispatch(setUp.X, handle, config: setUp.Config);
        snapshot["cached.x"] = Bytes(cached.Expanded!.X);

        int worstRows = (c.Tokens * buffer.GroupSize) + 1;
        using DispatchResult worst = buffer.Dispatch(setUp.X, layout, setUp.Topk, setUp.Weights, expertAlignment, worstRows, setUp.Config, doExpand: true, doZeroPadding: true);
        using DispatchHandle worstHandle = worst.Handle!;
        Record(snapshot, "worst", worst.Expanded!, worstHandle.Expansion!, padded: true);

        using DeviceTensor hostX = setUp.Inputs.XOn(DeviceTensor.HostDevice);
        using Fp8Tensor cast = Fp8Cast.PerTokenCast(hostX);
        using DeviceTensor fp8 = cast.Data.To(setUp.Device);
        using DeviceTensor scales = cast.Scales.To(setUp.Device);
        using DispatchResult fp8Result = buffer.Dispatch(fp8, scales, layout, setUp.Topk, setUp.Weights, expertAlignment: 8, config: setUp.Config, doExpand: true);
        using DispatchHandle fp8Handle = fp8Result.Handle!;
        Record(snapshot, "fp8", fp8Result.Expanded!, fp8Handle.Expansion!, padded: false);

        // Combine reads only the rows the layout names: the unpadded dispatch's padding rows hold poison on the GPU.
        using DispatchResult loose = buffer.Dispatch(setUp.X, layout, setUp.Topk, setUp.Weights, expertAlignment: 8, config: setUp.Config, doExpand: true);
        using DispatchHandle looseHandle = loose.Handle!;
        using CombineResult combined = buffer.Combine(loose.Expanded!.X, looseHandle, loose.Expanded.TopkWeights, config: setUp.Config, asyncFinish: asyncFinish);
        Wait(combined.Event);
        snapshot["combine.x"] = Bytes(combined.CombinedX);
        snapshot["combine.topkWeights"] = Bytes(combined.CombinedTopkWeights!);
        using CombineResult zeroedCombined = buffer.Combine(zeroed.Expanded!.X, handle, config: setUp.Config);
        snapshot["combineZeroed.x"] = Bytes(zeroedCombined.CombinedX);
        return snapshot;
    }

    private static void Record(Dictionary<string, byte[]> snapshot, string name, ExpandedRows rows, ExpertExpansion expansion, bool padded)
    {
        int[] src = expansion.SrcRowSlot.ToArray<int>();
        snapshot[$"{name}.counts"] = Bytes(expansion.NumRecvTokensPerExpert);
        snapshot[$"{name}.psum"] = Bytes(expansion.PsumNumRecvTokensPerExpert);
        snapshot[$"{name}.srcRowSlot"] = Bytes(expansion.SrcRowSlot);
        snapshot[$"{name}.expandedRowOf"] = Bytes(expansion.ExpandedRowOf);
        snapshot[$"{name}.x"] = Rows(rows.X, src, padded);
        snapshot[$"{name}.topkWeights"] = Bytes(rows.TopkWeights!);
        if (rows.XScales is not null)
        {
            snapshot[$"{name}.xScales"] = Rows(rows.XScales, src, padded);
        }
    }

    // The rows' bytes, padding rows blanked unless they were zeroed by the layout.
    private static byte[] Rows(DeviceTensor t, int[] src, bool padded)
    {
        byte[] bytes = Bytes(t);
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
}
