using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// The fused MoE layer (DeepEP-Ascend's Buffer.fused_deep_moe; docs/fused-moe.md).
public sealed partial class EpBuffer
{
    /// <summary>
    /// One MoE layer: low-latency dispatch of <paramref name="x"/> to the experts of <paramref name="topkIdx"/>, each
    /// local expert's FFN y = W2 · (silu(W1_gate · x) ⊙ (W1_up · x)) in <paramref name="weights"/>' number format, and
    /// low-latency combine of the results weighted by <paramref name="topkWeights"/> (DeepEP-Ascend's <c>fused_deep_moe</c>).
    /// Needs a low-latency buffer sized by <see cref="GetLowLatencyRdmaSizeHint(int, int, int, int)"/>; collective: every rank calls it.
    /// Every backend computes it: the host reference, and on the kernels and NCCL backends the backend's low-latency
    /// dispatch and combine around GPU grouped GEMM and SwiGLU kernels (docs/fused-moe.md).
    /// </summary>
    /// <param name="x"><c>[T, H]</c> BF16 tokens, T ≤ <paramref name="numMaxDispatchTokensPerRank"/>, H a multiple of 128 equal to the weights' H.</param>
    /// <param name="topkIdx"><c>[T, K]</c> Int64 global expert ids, -1 for a masked slot; distinct within a row.</param>
    /// <param name="topkWeights"><c>[T, K]</c> Float32 weight of each slot.</param>
    /// <param name="weights">This rank's <c>numExperts / R</c> experts (<see cref="MoeExpertWeights"/>), on this buffer's device.</param>
    /// <param name="numMaxDispatchTokensPerRank">N, the most tokens any rank passes (the same on every rank).</param>
    /// <param name="numExperts">E, a multiple of the group size R; expert e lives on rank e / (E / R).</param>
    /// <param name="mode">The schedule; both modes give the same result.</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream): the layer is ordered after its work and its results are queued on it; null means the calling thread's library stream. Must be on this buffer's device; the host backend takes none.</param>
    /// <param name="out">Where to write the <c>[T, H]</c> BF16 output instead of a new tensor (as <see cref="LowLatencyCombine"/>'s): the result's
    /// <see cref="FusedMoeResult.Output"/> is then a view of it that disposing the result leaves alone. A captured CUDA graph that replays the layer
    /// needs it, so the output outlives each replay.</param>
    /// <returns>The <c>[T, H]</c> BF16 layer output and the <c>[E_local]</c> Int32 row count each local expert received.</returns>
    public FusedMoeResult FusedDeepMoe(
        DeviceTensor x,
        DeviceTensor topkIdx,
        DeviceTensor topkWeights,
        MoeExpertWeights weights,
        int numMaxDispatchTokensPerRank,
        int numExperts,
        FuseMode mode = FuseMode.FusedDeepMoe,
        CudaStream? stream = null,
        DeviceTensor? @out = null)
    {
        long started = DebugStart();
        EnsureLowLatency();
        TensorChecks.That(SharedExpertRankNum == 0, nameof(numExperts),
            $"FusedDeepMoe does not support shared-expert ranks (SharedExpertRankNum = {SharedExpertRankNum}); create the buffer with " +
            $"options.SharedExpertRankNum = 0 (or unset {EpEnvironment.SharedExpertRankNumVariable}), or use LowLatencyDispatch and LowLatencyCombine.");
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        long tokens = x.Size(0);
        long hidden = x.Size(1);
        TensorChecks.That(hidden > 0 && hidden % Fp8Cast.ChannelsPerScale == 0, nameof(x),
            $"x ({x.Describe()}) must have a hidden size H that is a positive multiple of {Fp8Cast.ChannelsPerScale}.");
        CheckLowLatencyShape(numMaxDispatchTokensPerRank, (int)hidden, numExperts);
        TensorChecks.That(tokens <= numMaxDispatchTokensPerRank, nameof(x),
            $"x has {tokens} tokens but numMaxDispatchTokensPerRank is {numMaxDispatchTokensPerRank}; raise it (and the buffer) or split the batch.");
        TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [tokens, TensorChecks.AnySize]);
        TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [tokens, topkIdx.Size(1)]);
        StreamOptions streams = Streams(null, false, false, stream);
        CheckTopk(topkIdx, nameof(topkIdx), numExperts, stream, distinct: true);
        CheckExpertWeights(weights, numExperts, hidden);
        TensorChecks.That(Enum.IsDefined(mode), nameof(mode), $"mode ({mode}) must be FuseMode.FusedDeepMoe or FuseMode.DispatchFfnCombine.");
        if (@out is not null)
        {
            TensorChecks.Require(@out, nameof(@out), DType.BFloat16, Device, [tokens, hidden]);
        }
        FusedMoeResult result = _backend.FusedDeepMoe(new FusedMoeRequest(x, topkIdx, topkWeights, weights, numMaxDispatchTokensPerRank, numExperts, mode, streams, @out));
        if (@out is not null)
        {
            result = result with { Output = @out.View(tokens, hidden) };
        }
        if (started != 0)
        {
            DebugEnd(started, nameof(FusedDeepMoe), $"x={x.Describe()}, topkIdx={topkIdx.Describe()}, weights={weights.QuantMode} [{weights.NumLocalExperts}, {weights.IntermediateSize}, {weights.Hidden}], " +
                $"numMaxDispatchTokensPerRank={numMaxDispatchTokensPerRank}, numExperts={numExperts}, mode={mode}, out={Describe(@out)}");
        }
        return result;
    }

    private void CheckExpertWeights(MoeExpertWeights weights, int numExperts, long hidden)
    {
        ArgumentNullException.ThrowIfNull(weights);
        foreach (DeviceTensor? tensor in (DeviceTensor?[])[weights.W1, weights.W1Scales, weights.W2, weights.W2Scales])
        {
            if (tensor is not null)
            {
                TensorChecks.RequireAlive(tensor, nameof(weights));
            }
        }
        TensorChecks.That(weights.Device == Device, nameof(weights),
            $"weights live on {TensorChecks.DeviceName(weights.Device)}, not this buffer's {TensorChecks.DeviceName(Device)}; build them from tensors on the buffer's device.");
        TensorChecks.That(weights.NumLocalExperts == numExperts / GroupSize, nameof(weights),
            $"weights hold {weights.NumLocalExperts} experts but numExperts ({numExperts}) over {GroupSize} rank(s) gives {numExperts / GroupSize} per rank; pass this rank's experts.");
        TensorChecks.That(weights.Hidden == hidden, nameof(weights),
            $"weights are for H = {weights.Hidden} but x has H = {hidden}; W1 must be [E_local, 2I, H] and W2 [E_local, H, I].");
        // The GEMMs move 16-byte words; found out there, a misaligned tensor would stop this rank mid-collective.
        foreach ((DeviceTensor tensor, string name) in (ReadOnlySpan<(DeviceTensor, string)>)[(weights.W1, "W1"), (weights.W2, "W2")])
        {
            TensorChecks.That(tensor.Pointer % 16 == 0, nameof(weights),
                $"weights.{name} ({tensor.Describe()}) starts at 0x{tensor.Pointer:x}, not on a 16-byte boundary; the grouped GEMMs read 16-byte words (copy it into a fresh tensor).");
        }
    }
}
