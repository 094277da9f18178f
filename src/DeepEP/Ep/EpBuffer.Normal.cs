using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// Normal mode (spec §1-§3): layout, dispatch (from a layout, or cached from a handle) and combine. Every operation
// takes DeepEP's stream arguments plus the caller's stream (DeepEP's current stream), see EpBuffer.Checks.Streams.
public sealed partial class EpBuffer
{
    /// <summary>Computes the dispatch layout of <paramref name="topkIdx"/> (spec §1).</summary>
    /// <param name="topkIdx"><c>[T, K]</c> Int64 expert ids, -1 for a masked slot.</param>
    /// <param name="numExperts">E, divisible by the group size.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream (<see cref="CudaStream.ForDevice"/>). A raw <c>CUstream</c> is wrapped with <see cref="CudaStream.FromHandle"/>.</param>
    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, EventOverlap? previousEvent = null, bool asyncFinish = false,
        bool allocateOnCommStream = false, CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureUsable();
        StreamOptions streams = Streams(previousEvent, asyncFinish, allocateOnCommStream, stream);
        CheckNumExperts(numExperts, nameof(numExperts));
        TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        CheckTopk(topkIdx, nameof(topkIdx), numExperts, stream);
        DispatchLayout layout = _backend.GetDispatchLayout(topkIdx, numExperts, streams);
        if (started != 0)
        {
            DebugEnd(started, nameof(GetDispatchLayout), $"topkIdx={topkIdx.Describe()}, numExperts={numExperts}, asyncFinish={asyncFinish}, allocateOnCommStream={allocateOnCommStream}");
        }
        return layout;
    }

    // RS0026 (PublicApiAnalyzers) asks for one overload with optional parameters per name, for binary compatibility of
    // later additions. The four Dispatch overloads differ in their required parameters (a layout or a handle; BF16 x, or
    // x with its scales), so no call binds to two of them, and DeepEP's keyword-argument style needs the optional ones.
#pragma warning disable RS0026
    /// <summary>
    /// Normal-mode dispatch of BF16 rows (spec §2): sends each token once to every rank owning one of its experts, as
    /// <paramref name="layout"/> describes. The result's handle serves combine and later cached dispatches.
    /// </summary>
    /// <param name="x"><c>[T, H]</c> BF16, H*2 a multiple of 16.</param>
    /// <param name="layout">The layout of this <paramref name="x"/>'s routing from <see cref="GetDispatchLayout"/> (or built from the same tensors); <see cref="DispatchLayout.NumTokensPerRdmaRank"/> must be null within one NVLink domain.</param>
    /// <param name="topkIdx"><c>[T, K]</c> Int64, given together with <paramref name="topkWeights"/>.</param>
    /// <param name="topkWeights"><c>[T, K]</c> Float32.</param>
    /// <param name="expertAlignment">Round each per-expert receive count up to a multiple of this (≥ 1).</param>
    /// <param name="numWorstTokens">If &gt; 0: no host synchronisation, outputs sized to this many rows (needs top-k).</param>
    /// <param name="config">Kernel configuration; null uses <see cref="GetDispatchConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    /// <param name="doExpand">Also return the rows in V2's expanded layout (<see cref="DispatchResult.Expanded"/>, <see cref="DispatchHandle.Expansion"/>; needs top-k); combine then takes expanded rows.</param>
    /// <param name="doZeroPadding">Zero the expanded layout's padding rows (needs <paramref name="doExpand"/>).</param>
    /// <param name="useInt8Quant">Quantise <paramref name="x"/> to INT8 with a Float32 scale per token before sending (DeepEP-Ascend's dynamic quantisation, H a multiple of 16): the result is that of dispatching <see cref="Int8Cast.PerTokenCast"/>'s output (Int8 <c>RecvX</c>, <c>[M, 1]</c> <c>RecvXScales</c>); null uses <see cref="NormalInt8Quant"/>.</param>
    /// <param name="expertTokenNumsType">What <see cref="DispatchResult.NumRecvTokensPerExpertList"/> holds for this call; null uses <see cref="ExpertTokenNumsType"/>.</param>
    public DispatchResult Dispatch(DeviceTensor x, DispatchLayout layout, DeviceTensor? topkIdx = null, DeviceTensor? topkWeights = null,
        int expertAlignment = 1, int numWorstTokens = 0, EpConfig? config = null, EventOverlap? previousEvent = null, bool asyncFinish = false,
        bool allocateOnCommStream = false, CudaStream? stream = null, bool doExpand = false, bool doZeroPadding = false, bool? useInt8Quant = null,
        ExpertTokenNumsType? expertTokenNumsType = null) =>
        DispatchFromLayout(x, null, layout, topkIdx, topkWeights, expertAlignment, numWorstTokens, config, Streams(previousEvent, asyncFinish, allocateOnCommStream, stream),
            doExpand, doZeroPadding, useInt8Quant, expertTokenNumsType);

    /// <summary>
    /// Normal-mode dispatch of FP8 rows with their scales (DeepEP's <c>x = (x, x_scales)</c>), otherwise as
    /// <see cref="Dispatch(DeviceTensor, DispatchLayout, DeviceTensor?, DeviceTensor?, int, int, EpConfig?, EventOverlap?, bool, bool, CudaStream?, bool, bool, bool?, ExpertTokenNumsType?)"/>.
    /// </summary>
    /// <param name="x"><c>[T, H]</c> FP8 E4M3 or INT8 (H a multiple of 16; rows arrive byte for byte), or BF16 when <paramref name="xScales"/> is null.</param>
    /// <param name="xScales">FP8: <c>[T, S]</c> Float32 or Int32 (UE8M0) scales; INT8: <c>[T, S]</c> Float32 (<c>[T, 1]</c> from <see cref="Int8Cast.PerTokenCast"/>); any strides (column-major works); null for BF16 <paramref name="x"/>.</param>
    /// <param name="layout">The layout of this <paramref name="x"/>'s routing from <see cref="GetDispatchLayout"/>.</param>
    /// <param name="topkIdx"><c>[T, K]</c> Int64, given together with <paramref name="topkWeights"/>.</param>
    /// <param name="topkWeights"><c>[T, K]</c> Float32.</param>
    /// <param name="expertAlignment">Round each per-expert receive count up to a multiple of this (≥ 1).</param>
    /// <param name="numWorstTokens">If &gt; 0: no host synchronisation, outputs sized to this many rows (needs top-k).</param>
    /// <param name="config">Kernel configuration; null uses <see cref="GetDispatchConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    /// <param name="doExpand">Also return the rows (and scales) in V2's expanded layout (<see cref="DispatchResult.Expanded"/>, <see cref="DispatchHandle.Expansion"/>; needs top-k); combine then takes expanded rows.</param>
    /// <param name="doZeroPadding">Zero the expanded layout's padding rows (needs <paramref name="doExpand"/>).</param>
    /// <param name="expertTokenNumsType">What <see cref="DispatchResult.NumRecvTokensPerExpertList"/> holds for this call; null uses <see cref="ExpertTokenNumsType"/>.</param>
    public DispatchResult Dispatch(DeviceTensor x, DeviceTensor? xScales, DispatchLayout layout, DeviceTensor? topkIdx = null, DeviceTensor? topkWeights = null,
        int expertAlignment = 1, int numWorstTokens = 0, EpConfig? config = null, EventOverlap? previousEvent = null, bool asyncFinish = false,
        bool allocateOnCommStream = false, CudaStream? stream = null, bool doExpand = false, bool doZeroPadding = false, ExpertTokenNumsType? expertTokenNumsType = null) =>
        DispatchFromLayout(x, xScales, layout, topkIdx, topkWeights, expertAlignment, numWorstTokens, config, Streams(previousEvent, asyncFinish, allocateOnCommStream, stream),
            doExpand, doZeroPadding, null, expertTokenNumsType);

    private DispatchResult DispatchFromLayout(DeviceTensor x, DeviceTensor? xScales, DispatchLayout layout, DeviceTensor? topkIdx, DeviceTensor? topkWeights,
        int expertAlignment, int numWorstTokens, EpConfig? config, StreamOptions streams, bool doExpand, bool doZeroPadding, bool? useInt8Quant,
        ExpertTokenNumsType? expertTokenNumsType)
    {
        long started = DebugStart();
        EnsureUsable();
        config ??= GetDispatchConfig(GroupSize);
        CheckConfig(config);
        long tokens = CheckDispatchPayload(x, xScales);
        bool quantize = QuantizesToInt8(x, xScales, useInt8Quant);
        ExpertTokenNumsType nums = ResolveExpertTokenNumsType(expertTokenNumsType);
        TensorChecks.That(expertAlignment >= 1, nameof(expertAlignment), $"expertAlignment ({expertAlignment}) must be at least 1.");
        TensorChecks.That(numWorstTokens >= 0, nameof(numWorstTokens), $"numWorstTokens ({numWorstTokens}) must be 0 (off) or positive.");
        int numExperts = CheckLayout(layout, tokens, streams.ComputeStream);
        TensorChecks.That((topkIdx is null) == (topkWeights is null), topkIdx is null ? nameof(topkIdx) : nameof(topkWeights),
            "topkIdx and topkWeights must be given together or both omitted.");
        if (topkIdx is not null)
        {
            TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [tokens, TensorChecks.AnySize]);
            TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [tokens, topkIdx.Size(1)]);
            CheckTopk(topkIdx, nameof(topkIdx), numExperts, streams.ComputeStream);
        }
        TensorChecks.That(numWorstTokens == 0 || topkIdx is not null, nameof(numWorstTokens), "numWorstTokens > 0 needs topkIdx and topkWeights (the padded rows are marked by -1 top-k).");
        CheckExpand(doExpand, doZeroPadding, topkIdx, numExperts / GroupSize, expertAlignment, numWorstTokens);
        CheckNvlCapacity();
        using Int8Tensor? quantized = quantize ? QuantizeInt8(x, streams) : null;
        DispatchResult result = _backend.Dispatch(NormalDispatchRequest.FromLayout(quantized?.Data ?? x, quantized?.Scales ?? xScales, layout,
            topkIdx, topkWeights, numExperts, expertAlignment, numWorstTokens, config, streams));
        // Expansion reads the per-expert counts, so their form is applied last.
        result = ShapeExpertCounts(doExpand ? Expand(result, null, numExperts / GroupSize, expertAlignment, numWorstTokens, doZeroPadding, streams) : result, nums);
        if (started != 0)
        {
            DebugEnd(started, nameof(Dispatch), $"x={x.Describe()}, xScales={Describe(xScales)}, useInt8Quant={quantize}, topkIdx={Describe(topkIdx)}, numExperts={numExperts}, " +
                $"expertAlignment={expertAlignment}, numWorstTokens={numWorstTokens}, doExpand={doExpand}, doZeroPadding={doZeroPadding}, config={config}, " +
                $"asyncFinish={streams.AsyncFinish}, recvX={result.RecvX.Describe()}, numRecvTokensPerExpertList ({nums})=[{string.Join(", ", result.NumRecvTokensPerExpertList)}]");
        }
        return result;
    }

    /// <summary>
    /// Cached normal-mode dispatch of BF16 rows (spec §2.6): the routing of the dispatch that made
    /// <paramref name="handle"/>, new data, no host synchronisation. The result has no handle, top-k or expert counts;
    /// with the handle of an expanded dispatch it has the rows in that expanded layout too (without weights).
    /// </summary>
    /// <param name="x"><c>[T, H]</c> BF16 with the T of the handle's dispatch.</param>
    /// <param name="handle">The handle of an earlier (non-cached) dispatch.</param>
    /// <param name="config">Kernel configuration with that dispatch's SM count; null uses <see cref="GetDispatchConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    /// <param name="useInt8Quant">Quantise <paramref name="x"/> to INT8 with a Float32 scale per token before sending, as the handle's dispatch may have; null uses <see cref="NormalInt8Quant"/>.</param>
    public DispatchResult Dispatch(DeviceTensor x, DispatchHandle handle, EpConfig? config = null, EventOverlap? previousEvent = null, bool asyncFinish = false,
        bool allocateOnCommStream = false, CudaStream? stream = null, bool? useInt8Quant = null) =>
        DispatchCached(x, null, handle, config, Streams(previousEvent, asyncFinish, allocateOnCommStream, stream), useInt8Quant);

    /// <summary>
    /// Cached normal-mode dispatch of FP8 rows with their scales, otherwise as
    /// <see cref="Dispatch(DeviceTensor, DispatchHandle, EpConfig?, EventOverlap?, bool, bool, CudaStream?, bool?)"/>.
    /// </summary>
    /// <param name="x"><c>[T, H]</c> FP8 E4M3 or INT8 (H a multiple of 16), or BF16 when <paramref name="xScales"/> is null.</param>
    /// <param name="xScales">FP8: <c>[T, S]</c> Float32 or Int32 (UE8M0) scales; INT8: <c>[T, S]</c> Float32; any strides; null for BF16 <paramref name="x"/>.</param>
    /// <param name="handle">The handle of an earlier (non-cached) dispatch.</param>
    /// <param name="config">Kernel configuration with that dispatch's SM count; null uses <see cref="GetDispatchConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    public DispatchResult Dispatch(DeviceTensor x, DeviceTensor? xScales, DispatchHandle handle, EpConfig? config = null, EventOverlap? previousEvent = null,
        bool asyncFinish = false, bool allocateOnCommStream = false, CudaStream? stream = null) =>
        DispatchCached(x, xScales, handle, config, Streams(previousEvent, asyncFinish, allocateOnCommStream, stream), null);

    private DispatchResult DispatchCached(DeviceTensor x, DeviceTensor? xScales, DispatchHandle handle, EpConfig? config, StreamOptions streams, bool? useInt8Quant)
    {
        long started = DebugStart();
        EnsureUsable();
        ArgumentNullException.ThrowIfNull(handle);
        config ??= GetDispatchConfig(GroupSize);
        CheckConfig(config);
        long tokens = CheckDispatchPayload(x, xScales);
        bool quantize = QuantizesToInt8(x, xScales, useInt8Quant);
        CheckHandle(handle, config, tokens);
        CheckNvlCapacity();
        using Int8Tensor? quantized = quantize ? QuantizeInt8(x, streams) : null;
        DispatchResult result = _backend.Dispatch(NormalDispatchRequest.Cached(quantized?.Data ?? x, quantized?.Scales ?? xScales, handle, config, streams));
        if (handle.Expansion is { } expansion)
        {
            result = Expand(result, expansion, 0, expansion.ExpertAlignment, 0, expansion.DoZeroPadding, streams);
        }
        if (started != 0)
        {
            DebugEnd(started, nameof(Dispatch), $"cached, x={x.Describe()}, xScales={Describe(xScales)}, useInt8Quant={quantize}, numRecvTokens={handle.NumRecvTokens}, config={config}, asyncFinish={streams.AsyncFinish}");
        }
        return result;
    }
#pragma warning restore RS0026

    /// <summary>
    /// Normal-mode combine (spec §3): for each original token, the bias plus the unweighted sum of the rows every
    /// rank returns for it, in rank order, accumulated in fp32; top-k weights are summed the same way.
    /// </summary>
    /// <param name="x"><c>[M, H]</c> BF16 in the row order of the dispatch output; with the handle of an expanded dispatch <c>[N, H]</c> in its expanded layout, each received row's copies summed (unweighted, as V2) before the combine.</param>
    /// <param name="handle">The handle of that dispatch (its <c>SendHead</c> is rewritten in place, as upstream).</param>
    /// <param name="topkWeights">Optional <c>[M, K]</c> Float32 to sum back per token; with an expanded handle <c>[N]</c> (one per expanded row), folded back to <c>[M, K]</c> first.</param>
    /// <param name="bias">Zero, one or two <c>[T, H]</c> BF16 tensors added first, indexed by original token.</param>
    /// <param name="config">Kernel configuration with the dispatch's SM count; null uses <see cref="GetCombineConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on <paramref name="stream"/>.</param>
    /// <param name="asyncFinish">Return an event instead of making <paramref name="stream"/> wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    /// <param name="stream">The caller's stream (DeepEP's current stream), on <see cref="Device"/>; null is the calling thread's library stream.</param>
    public CombineResult Combine(DeviceTensor x, DispatchHandle handle, DeviceTensor? topkWeights = null, IReadOnlyList<DeviceTensor>? bias = null,
        EpConfig? config = null, EventOverlap? previousEvent = null, bool asyncFinish = false, bool allocateOnCommStream = false, CudaStream? stream = null)
    {
        long started = DebugStart();
        EnsureUsable();
        ArgumentNullException.ThrowIfNull(handle);
        config ??= GetCombineConfig(GroupSize);
        CheckConfig(config);
        StreamOptions streams = Streams(previousEvent, asyncFinish, allocateOnCommStream, stream);
        long tokens = handle.NumTokens;
        CheckHandle(handle, config, tokens);
        if (handle.Expansion is { } expanded)
        {
            CheckExpandedCombine(x, expanded, topkWeights);
        }
        else
        {
            TensorChecks.That(x is not null && x.DType == DType.BFloat16, nameof(x), $"Combine takes BF16 only (FP8 is dispatch-only); got {x?.Describe() ?? "null"}.");
            TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [handle.NumRecvTokens, TensorChecks.AnySize]);
        }
        long hidden = x!.Size(1);
        TensorChecks.That(hidden * 2 % 16 == 0, nameof(x), $"The hidden size {hidden} must make rows a multiple of 16 bytes (H a multiple of 8 for BF16).");
        if (topkWeights is not null && handle.Expansion is null)
        {
            TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [handle.NumRecvTokens, TensorChecks.AnySize]);
            TensorChecks.That(topkWeights.Size(1) <= MaxTopk, nameof(topkWeights), $"topkWeights has {topkWeights.Size(1)} columns; at most {MaxTopk} are supported.");
        }
        TensorChecks.That(bias is null || bias.Count <= 2, nameof(bias), $"bias takes at most two tensors; got {bias?.Count}.");
        for (int i = 0; bias is not null && i < bias.Count; i++)
        {
            TensorChecks.Require(bias[i], $"{nameof(bias)}[{i}]", DType.BFloat16, Device, [tokens, hidden]);
        }
        CheckNvlCapacity();
        DeviceTensor? bias0 = bias is { Count: > 0 } ? bias[0] : null;
        DeviceTensor? bias1 = bias is { Count: > 1 } ? bias[1] : null;
        CombineResult result = handle.Expansion is { } expansion
            ? CombineExpanded(x, handle, expansion, topkWeights, bias0, bias1, config, streams)
            : _backend.Combine(new NormalCombineRequest(x, handle, topkWeights, bias0, bias1, config, streams));
        if (started != 0)
        {
            DebugEnd(started, nameof(Combine), $"x={x.Describe()}, topkWeights={Describe(topkWeights)}, bias={bias?.Count ?? 0}, numTokens={tokens}, config={config}, asyncFinish={asyncFinish}");
        }
        return result;
    }

    /// <summary>
    /// A BF16 <c>[M, hidden]</c> tensor (M = <see cref="DispatchHandle.NumRecvTokens"/>) to write the expert outputs into
    /// and pass to <see cref="Combine"/> (normal mode's counterpart of <see cref="GetNextLowLatencyCombineBuffer"/>). With
    /// one process per GPU on the kernels backend it is a view of this buffer's receive arena, which the peers read
    /// directly, so its combine copies nothing (any other <c>x</c> is first copied into the arena); elsewhere it is a new
    /// tensor. While alive it holds one of the arena's three slots: dispose it after the combine.
    /// </summary>
    /// <param name="handle">The handle of the dispatch whose rows the experts process (not an expanded one: its combine folds x first).</param>
    /// <param name="hidden">H of the expert outputs, a positive multiple of 8.</param>
    /// <param name="stream">The caller's stream, on <see cref="Device"/>; null is the calling thread's library stream. A new tensor is allocated on it.</param>
    /// <returns>An uninitialised <c>[M, hidden]</c> BF16 tensor on <see cref="Device"/> that the caller owns.</returns>
    public DeviceTensor GetCombineInputBuffer(DispatchHandle handle, int hidden, CudaStream? stream = null)
    {
        EnsureUsable();
        ArgumentNullException.ThrowIfNull(handle);
        TensorChecks.RequireAlive(handle.RecvSrcIdx, nameof(handle));
        TensorChecks.That(handle.Expansion is null, nameof(handle),
            "An expanded dispatch's combine takes x in the expanded layout and folds it first, so it has no in-place buffer; allocate x yourself.");
        TensorChecks.That(hidden > 0 && hidden % 8 == 0, nameof(hidden), $"hidden ({hidden}) must be a positive multiple of 8 (rows of whole 16-byte words).");
        CheckNvlCapacity();
        return _backend.CombineInputBuffer(handle.NumRecvTokens, hidden, Streams(null, false, false, stream));
    }
}
