using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of <see cref="EpBuffer.LowLatencyDispatch"/> (spec §5.3).</summary>
/// <param name="PackedRecvX"><c>[E_l, R*N, H]</c>, FP8 or BF16; only the first <c>PackedRecvCount[e]</c> rows of expert e are valid.</param>
/// <param name="PackedRecvXScales">FP8 only: Float32 <c>[E_l, R*N, H/128]</c> (UE8M0: Int32 <c>[E_l, R*N, H/512]</c>) with strides <c>(S*R*N, 1, R*N)</c>.</param>
/// <param name="PackedRecvCount"><c>[E_l]</c> Int32 valid rows per local expert.</param>
/// <param name="Handle">Routing state for combine.</param>
/// <param name="Event">Completion event when <c>asyncFinish</c> was requested.</param>
/// <param name="Hook">With <c>returnRecvHook</c>: call it to run the receive phase; the outputs are valid only after it.</param>
public sealed record LowLatencyDispatchResult(
    DeviceTensor PackedRecvX,
    DeviceTensor? PackedRecvXScales,
    DeviceTensor PackedRecvCount,
    LowLatencyHandle Handle,
    EventOverlap Event,
    Action? Hook) : IDisposable
{
    /// <summary>Frees the packed tensors; the <see cref="Handle"/> is disposed separately after combine.</summary>
    public void Dispose()
    {
        PackedRecvX.Dispose();
        PackedRecvXScales?.Dispose();
        PackedRecvCount.Dispose();
    }
}
