using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of <see cref="EpBuffer.LowLatencyCombine"/> (spec §5.4).</summary>
/// <param name="CombinedX"><c>[T, H]</c> BF16: Σ_k weight[t,k] · expert output, in top-k order with FMA.</param>
/// <param name="Event">Completion event when <c>asyncFinish</c> was requested.</param>
/// <param name="Hook">With <c>returnRecvHook</c>: call it to run the receive phase.</param>
public sealed record LowLatencyCombineResult(DeviceTensor CombinedX, EventOverlap Event, Action? Hook) : IDisposable
{
    /// <summary>Frees the combined tensor; when the caller passed <c>out</c>, <see cref="CombinedX"/> is a view of it and nothing is freed.</summary>
    public void Dispose() => CombinedX.Dispose();
}
