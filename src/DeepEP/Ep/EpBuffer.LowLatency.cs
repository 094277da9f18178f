using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// Low-latency mode (spec §5): decode-time dispatch and combine, the zero-copy buffer and rank masking.
public sealed partial class EpBuffer
{
    /// <summary>Zeroes the low-latency signalling areas between barriers (spec §5.2); required after normal-mode use of the same buffer.</summary>
    /// <param name="numMaxDispatchTokensPerRank">N of the low-latency calls that follow.</param>
    /// <param name="hidden">H of those calls, a multiple of 128.</param>
    /// <param name="numExperts">E of those calls, divisible by the group size (with shared-expert ranks: the routed experts, divisible by R − N).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream. The zeroing is ordered after its work, and it waits for the zeroing.</param>
    public void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts, CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureUsable();
        StreamOptions streams = Streams(null, false, false, stream);
        int experts = BackendExperts(numExperts);
        CheckLowLatencyShape(numMaxDispatchTokensPerRank, hidden, experts);
        _backend.CleanLowLatencyBuffer(numMaxDispatchTokensPerRank, hidden, experts, streams);
        if (started != 0)
        {
            DebugEnd(started, nameof(CleanLowLatencyBuffer), $"numMaxDispatchTokensPerRank={numMaxDispatchTokensPerRank}, hidden={hidden}, numExperts={numExperts}");
        }
    }

    /// <summary>
    /// Low-latency dispatch (spec §5.3): one copy per selected expert, packed per local expert, no host
    /// synchronisation, CUDA-graph capturable.
    /// </summary>
    /// <param name="x"><c>[T, H]</c> BF16, T ≤ <paramref name="numMaxDispatchTokensPerRank"/>, H a multiple of 128.</param>
    /// <param name="topkIdx"><c>[T, K]</c> Int64, -1 for a masked slot.</param>
    /// <param name="numMaxDispatchTokensPerRank">N, the same on every rank and every call.</param>
    /// <param name="numExperts">E, divisible by the group size. With shared-expert ranks (<see cref="SharedExpertRankNum"/> N &gt; 0): the routed
    /// experts, divisible by R − N; every rank then has E_l = E / (R − N) slots, shared rank j holds the shared expert in slot 0 (the
    /// rows of source ranks s with s % N = j; its other slots stay empty) and routed expert r is slot r % E_l of rank N + r / E_l.</param>
    /// <param name="cumulativeLocalExpertRecvStats">Optional <c>[E_l]</c> Int32 to which each expert's receive count is added.</param>
    /// <param name="dispatchWaitRecvCostStats">Optional <c>[R]</c> Int64 to which the wait per source rank is added (clock cycles).</param>
    /// <param name="useFp8">Cast to FP8 E4M3 with per-128-channel scales on the fly; ignored (BF16 is sent) when <see cref="Bf16Dispatch"/> is on.</param>
    /// <param name="roundScale">Round scales to powers of two.</param>
    /// <param name="useUe8m0">Pack scales as UE8M0 exponent bytes (needs <paramref name="roundScale"/>, H a multiple of 512).</param>
    /// <param name="asyncFinish">Return an event instead of making the current stream wait.</param>
    /// <param name="returnRecvHook">Run only the send phase now; the returned hook runs the receive phase (on <paramref name="stream"/>).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    /// <param name="expertTokenNumsType">What <see cref="LowLatencyDispatchResult.PackedRecvCount"/> holds for this call: counts, or their inclusive prefix sums (computed on the device after the receive, no host synchronisation); null uses <see cref="ExpertTokenNumsType"/>.</param>
    public LowLatencyDispatchResult LowLatencyDispatch(
        DeviceTensor x,
        DeviceTensor topkIdx,
        int numMaxDispatchTokensPerRank,
        int numExperts,
        DeviceTensor? cumulativeLocalExpertRecvStats = null,
        DeviceTensor? dispatchWaitRecvCostStats = null,
        bool useFp8 = true,
        bool roundScale = false,
        bool useUe8m0 = false,
        bool asyncFinish = false,
        bool returnRecvHook = false,
        CudaStream? stream = null,
        ExpertTokenNumsType? expertTokenNumsType = null)
    {
        long started = DebugStart();
        EnsureLowLatency();
        StreamOptions streams = Streams(null, asyncFinish, false, stream);
        ExpertTokenNumsType nums = ResolveExpertTokenNumsType(expertTokenNumsType);
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        long tokens = x.Size(0);
        int hidden = checked((int)x.Size(1));
        int experts = BackendExperts(numExperts);
        CheckLowLatencyShape(numMaxDispatchTokensPerRank, hidden, experts);
        TensorChecks.That(tokens <= numMaxDispatchTokensPerRank, nameof(x),
            $"x has {tokens} tokens but numMaxDispatchTokensPerRank is {numMaxDispatchTokensPerRank}; raise it (and the buffer) or split the batch.");
        TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [tokens, TensorChecks.AnySize]);
        // Each expert holds R*N rows: one per (source rank, token), so a token may select an expert only once.
        CheckTopk(topkIdx, nameof(topkIdx), numExperts, stream, distinct: true);
        SharedExpertLayout? shared = SharedLayout(numExperts, topkIdx.Size(1));
        TensorChecks.That(!useUe8m0 || roundScale, nameof(useUe8m0), "useUe8m0 requires roundScale: UE8M0 stores only power-of-two scales.");
        TensorChecks.That(!useUe8m0 || hidden % 512 == 0, nameof(useUe8m0), $"UE8M0 packs four scale groups per Int32, so H ({hidden}) must be a multiple of 512.");
        TensorChecks.That(useFp8 || !roundScale, nameof(roundScale), "roundScale applies to FP8 dispatch only (useFp8: true).");
        TensorChecks.That(!(asyncFinish && returnRecvHook), nameof(asyncFinish), "asyncFinish and returnRecvHook are mutually exclusive: the hook already defers completion.");
        if (cumulativeLocalExpertRecvStats is not null)
        {
            TensorChecks.Require(cumulativeLocalExpertRecvStats, nameof(cumulativeLocalExpertRecvStats), DType.Int32, Device, [experts / GroupSize]);
        }
        if (dispatchWaitRecvCostStats is not null)
        {
            TensorChecks.Require(dispatchWaitRecvCostStats, nameof(dispatchWaitRecvCostStats), DType.Int64, Device, [GroupSize]);
        }
        // The arguments were checked as given; BF16 dispatch then drops FP8 and its scale options, so the result is exactly useFp8: false's.
        bool fp8 = useFp8 && !Bf16Dispatch;
        SharedExpertRouting? routing = shared is null ? null : new SharedExpertRouting(shared);
        LowLatencyDispatchResult result;
        try
        {
            DeviceTensor routedIdx = routing is null ? topkIdx : routing.Retain(RouteShared(routing.Layout, topkIdx, stream));
            result = _backend.LowLatencyDispatch(new LowLatencyDispatchRequest(x, routedIdx, numMaxDispatchTokensPerRank, experts,
                cumulativeLocalExpertRecvStats, dispatchWaitRecvCostStats, fp8, fp8 && roundScale, fp8 && useUe8m0, streams, returnRecvHook,
                nums == ExpertTokenNumsType.PrefixSums));
        }
        catch
        {
            routing?.Dispose();
            throw;
        }
        if (routing is not null)
        {
            result = result with { Handle = result.Handle with { SharedExperts = routing } };
        }
        if (started != 0)
        {
            DebugEnd(started, nameof(LowLatencyDispatch), $"x={x.Describe()}, topkIdx={topkIdx.Describe()}, numMaxDispatchTokensPerRank={numMaxDispatchTokensPerRank}, " +
                $"numExperts={numExperts}, useFp8={useFp8} (sent {(fp8 ? "FP8" : "BF16")}), roundScale={roundScale}, useUe8m0={useUe8m0}, asyncFinish={asyncFinish}, " +
                $"returnRecvHook={returnRecvHook}, packedRecvCount ({nums}), packedRecvX={result.PackedRecvX.Describe()}");
        }
        return result;
    }

    /// <summary>
    /// Low-latency combine (spec §5.4): for each original token, Σ_k topkWeights[t,k] · (expert output row), in
    /// top-k order with fused multiply-adds, skipping -1 slots and masked ranks. With shared-expert ranks the handle's
    /// shared-expert row is added last with weight 1 (<paramref name="topkIdx"/> and <paramref name="topkWeights"/> stay the caller's
    /// routed <c>[T, K]</c>).
    /// </summary>
    /// <param name="x"><c>[E_l, R*N, H]</c> BF16 expert outputs in the packed layout of the dispatch.</param>
    /// <param name="topkIdx">The <c>[T, K]</c> Int64 routing given to that dispatch.</param>
    /// <param name="topkWeights"><c>[T, K]</c> Float32 weights.</param>
    /// <param name="handle">The dispatch's handle.</param>
    /// <param name="useLogfmt">Send each row as LogFMT-10 (spec §5.5: 9-bit log codes per value, H × 10 / 8 + 4S bytes a row where every 512- or 1024-value stage has |x| &lt; 1; other stages raw BF16). H a multiple of 512 (on the kernels and NCCL backends at most 32768); not with zeroCopy. Every backend gives the host reference's bits; the NCCL backend moves whole 4S + 2H slots, so it saves no bytes.</param>
    /// <param name="zeroCopy">The expert outputs are already in <see cref="GetNextLowLatencyCombineBuffer"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making the current stream wait.</param>
    /// <param name="returnRecvHook">Run only the send phase now; the returned hook runs the receive phase.</param>
    /// <param name="out">Optional <c>[T, H]</c> BF16 written in place and returned.</param>
    /// <param name="combineWaitRecvCostStats">Optional <c>[R]</c> Int64 wait statistics.</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    public LowLatencyCombineResult LowLatencyCombine(
        DeviceTensor x,
        DeviceTensor topkIdx,
        DeviceTensor topkWeights,
        LowLatencyHandle handle,
        bool useLogfmt = false,
        bool zeroCopy = false,
        bool asyncFinish = false,
        bool returnRecvHook = false,
        DeviceTensor? @out = null,
        DeviceTensor? combineWaitRecvCostStats = null,
        CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureLowLatency();
        ArgumentNullException.ThrowIfNull(handle);
        StreamOptions streams = Streams(null, asyncFinish, false, stream);
        int localExperts = handle.NumExperts / GroupSize;
        long rows = (long)GroupSize * handle.NumMaxDispatchTokensPerRank;
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [localExperts, rows, handle.Hidden]);
        TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        long tokens = topkIdx.Size(0);
        TensorChecks.That(tokens <= handle.NumMaxDispatchTokensPerRank, nameof(topkIdx), $"topkIdx has {tokens} tokens, more than the handle's N = {handle.NumMaxDispatchTokensPerRank}.");
        TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [tokens, topkIdx.Size(1)]);
        SharedExpertRouting? routing = handle.SharedExperts;
        CheckTopk(topkIdx, nameof(topkIdx), routing?.Layout.RoutedExperts ?? handle.NumExperts, stream);
        TensorChecks.Require(handle.PackedRecvSrcInfo, nameof(handle), DType.Int32, Device, [localExperts, rows]);
        TensorChecks.Require(handle.PackedRecvLayoutRange, nameof(handle), DType.Int64, Device, [localExperts, GroupSize]);
        if (useLogfmt)
        {
            TensorChecks.That(!zeroCopy, nameof(useLogfmt), "LogFMT-10 combine encodes x as it sends it, which zeroCopy skips: pass useLogfmt or zeroCopy, not both.");
            TensorChecks.That(LogFmt10.Supports(handle.Hidden), nameof(useLogfmt), $"LogFMT-10 combine needs a hidden size that is a multiple of 512, not {handle.Hidden}: pass useLogfmt: false.");
        }
        TensorChecks.That(!(asyncFinish && returnRecvHook), nameof(asyncFinish), "asyncFinish and returnRecvHook are mutually exclusive: the hook already defers completion.");
        if (@out is not null)
        {
            TensorChecks.Require(@out, nameof(@out), DType.BFloat16, Device, [tokens, handle.Hidden]);
        }
        if (combineWaitRecvCostStats is not null)
        {
            TensorChecks.Require(combineWaitRecvCostStats, nameof(combineWaitRecvCostStats), DType.Int64, Device, [GroupSize]);
        }
        if (routing is not null)
        {
            SharedExpertLayout.CheckTopkRoom(topkIdx.Size(1), routing.Layout.SharedRanks);
            topkIdx = routing.Retain(RouteShared(routing.Layout, topkIdx, stream));
            topkWeights = routing.Retain(SharedExpertLayout.Weigh(topkWeights, Device));
        }
        LowLatencyCombineResult result = _backend.LowLatencyCombine(new LowLatencyCombineRequest(x, topkIdx, topkWeights, handle, useLogfmt, zeroCopy,
            streams, returnRecvHook, @out, combineWaitRecvCostStats));
        if (started != 0)
        {
            DebugEnd(started, nameof(LowLatencyCombine), $"x={x.Describe()}, topkIdx={topkIdx.Describe()}, topkWeights={topkWeights.Describe()}, zeroCopy={zeroCopy}, " +
                $"asyncFinish={asyncFinish}, returnRecvHook={returnRecvHook}, out={Describe(@out)}");
        }
        // The caller owns `out`: hand back a view so disposing the result never frees it.
        return @out is null ? result : result with { CombinedX = @out.View(tokens, handle.Hidden) };
    }

    /// <summary>The BF16 <c>[E_l, R*N, H]</c> view the next low-latency combine reads when <c>zeroCopy</c> is set (spec §5.4).</summary>
    public DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle)
    {
        long started = DebugStart();
        EnsureLowLatency();
        ArgumentNullException.ThrowIfNull(handle);
        CheckLowLatencyShape(handle.NumMaxDispatchTokensPerRank, handle.Hidden, handle.NumExperts);
        DeviceTensor buffer = _backend.GetNextLowLatencyCombineBuffer(handle);
        if (started != 0)
        {
            DebugEnd(started, nameof(GetNextLowLatencyCombineBuffer), $"buffer={buffer.Describe()}");
        }
        return buffer;
    }

    /// <summary>Marks (<paramref name="mask"/> true) or unmarks a rank as failed (spec §5.6); needs <see cref="EpBufferOptions.EnableShrink"/>.</summary>
    /// <param name="rankToMask">The rank, 0 to R - 1.</param>
    /// <param name="mask">True marks it failed, false clears the mark.</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream. The update is queued on it.</param>
    public void LowLatencyUpdateMaskBuffer(int rankToMask, bool mask = false, CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureShrink();
        StreamOptions streams = Streams(null, false, false, stream);
        TensorChecks.That(rankToMask >= 0 && rankToMask < GroupSize, nameof(rankToMask), $"rankToMask ({rankToMask}) must be in [0, {GroupSize}).");
        _backend.UpdateMaskBuffer(rankToMask, mask, streams);
        if (started != 0)
        {
            DebugEnd(started, nameof(LowLatencyUpdateMaskBuffer), $"rankToMask={rankToMask}, mask={mask}");
        }
    }

    /// <summary>Copies the mask (1 = failed) into <paramref name="maskStatus"/>, <c>[R]</c> Int32 (spec §5.6).</summary>
    /// <param name="maskStatus"><c>[R]</c> Int32 on <see cref="Device"/>, overwritten.</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream. The copy is queued on it.</param>
    public void LowLatencyQueryMaskBuffer(DeviceTensor maskStatus, CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureShrink();
        StreamOptions streams = Streams(null, false, false, stream);
        TensorChecks.Require(maskStatus, nameof(maskStatus), DType.Int32, Device, [GroupSize]);
        _backend.QueryMaskBuffer(maskStatus, streams);
        if (started != 0)
        {
            DebugEnd(started, nameof(LowLatencyQueryMaskBuffer), $"maskStatus={maskStatus.Describe()}");
        }
    }

    /// <summary>Clears every mask (spec §5.6). On the host backend every rank must call it, masked ones included: it readmits them.</summary>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream. The clearing is queued on it.</param>
    public void LowLatencyCleanMaskBuffer(CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureShrink();
        StreamOptions streams = Streams(null, false, false, stream);
        _backend.CleanMaskBuffer(streams);
        if (started != 0)
        {
            DebugEnd(started, nameof(LowLatencyCleanMaskBuffer), "all ranks unmasked");
        }
    }
}
