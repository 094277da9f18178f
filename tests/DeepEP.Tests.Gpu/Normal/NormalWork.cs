using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// The device work of one BF16 dispatch and one combine of <see cref="EpBuffer.GetCombineInputBuffer"/> on one rank
/// (issue 12's proof that one process per GPU does the threads' work): the kernels each launches and the bytes each
/// copies, measured through the library's meter around the two calls only.
/// </summary>
internal static class NormalWork
{
    public static readonly NormalCase Case = new(512, 7168, 64, 8, Seed: 21);

    /// <summary>The work of the dispatch, of the combine, and the rows this rank received.</summary>
    public static (DeviceWork Dispatch, DeviceWork Combine, long Rows) Measure(EpBuffer buffer, int numSms)
    {
        using var setUp = new NormalScenarioSetUp(buffer, new NormalRun(Case, NumSms: numSms));
        using DispatchLayout layout = buffer.GetDispatchLayout(setUp.Topk, Case.Experts);
        DispatchResult? received = null;
        DeviceWork dispatch = DeviceWork.Record(() => received = buffer.Dispatch(setUp.X, layout, setUp.Topk, setUp.Weights, config: setUp.Config));
        using DispatchResult result = received!;
        using DispatchHandle handle = result.Handle!;
        using DeviceTensor input = buffer.GetCombineInputBuffer(handle, Case.Hidden);
        input.CopyFrom<byte>(NormalScenarioSetUp.Bytes(result.RecvX));
        CombineResult? combined = null;
        DeviceWork combine = DeviceWork.Record(() => combined = buffer.Combine(input, handle, result.RecvTopkWeights, config: setUp.Config));
        combined!.Dispose();
        return (dispatch, combine, result.RecvX.Size(0));
    }
}
