using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// DeepEP-Ascend's per-dispatch options: INT8 quantisation inside normal dispatch (DEEP_NORMAL_MODE_USE_INT8_QUANT) and
// the form of the per-expert counts (MOE_EXPERT_TOKEN_NUMS_TYPE), each a buffer default a call may override.
public sealed partial class EpBuffer
{
    /// <summary>
    /// Whether this dispatch quantises <paramref name="x"/> (already checked as a payload): asked per call or by
    /// <see cref="NormalInt8Quant"/>, for BF16 rows only (FP8 or INT8 rows come with their scales).
    /// </summary>
    private bool QuantizesToInt8(DeviceTensor x, DeviceTensor? xScales, bool? useInt8Quant)
    {
        bool quantize = x.DType == DType.BFloat16 && xScales is null && (useInt8Quant ?? NormalInt8Quant);
        TensorChecks.That(!quantize || x.Size(1) % 16 == 0, nameof(useInt8Quant),
            $"INT8 rows must be a multiple of 16 bytes, so H ({x.Size(1)}) must be a multiple of 16 to quantise: pass useInt8Quant: false.");
        return quantize;
    }

    /// <summary>
    /// Quantises <paramref name="x"/> per token (<see cref="Int8Cast"/>'s arithmetic). On a GPU the cast runs on the
    /// communication stream after what the dispatch itself waits for, so <c>previousEvent</c> keeps its meaning and the
    /// rows are freed (stream-ordered) only after the dispatch kernels that read them.
    /// </summary>
    private Int8Tensor QuantizeInt8(DeviceTensor x, StreamOptions streams)
    {
        if (x.IsHost)
        {
            using DeviceTensor? copy = x.IsContiguous ? null : x.Contiguous();
            return Int8Cast.PerTokenCast(copy ?? x);
        }
        CudaStream comm = _backend.CommStream!;
        if (streams.PreviousEvent?.Event is { } previous)
        {
            comm.Wait(previous);
        }
        using (CudaEvent callerReady = (streams.ComputeStream ?? CudaStream.ForDevice(Device)).RecordEvent())
        {
            comm.Wait(callerReady);
        }
        return Int8CastRuntime.Cast(x, comm);
    }

    /// <summary>A call's <c>expertTokenNumsType</c>, else the buffer's <see cref="ExpertTokenNumsType"/>.</summary>
    private ExpertTokenNumsType ResolveExpertTokenNumsType(ExpertTokenNumsType? perCall)
    {
        TensorChecks.That(perCall is null || Enum.IsDefined(perCall.Value), "expertTokenNumsType",
            $"expertTokenNumsType must be Counts (1) or PrefixSums (0), not {perCall}.");
        return perCall ?? ExpertTokenNumsType;
    }

    /// <summary>Applies <paramref name="nums"/> to a normal-mode dispatch result.</summary>
    private static DispatchResult ShapeExpertCounts(DispatchResult result, ExpertTokenNumsType nums)
    {
        if (nums == ExpertTokenNumsType.Counts || result.NumRecvTokensPerExpertList.Count == 0)
        {
            return result;
        }
        var sums = new int[result.NumRecvTokensPerExpertList.Count];
        int total = 0;
        for (int i = 0; i < sums.Length; i++)
        {
            total = checked(total + result.NumRecvTokensPerExpertList[i]);
            sums[i] = total;
        }
        return result with { NumRecvTokensPerExpertList = sums };
    }
}
