using System.Diagnostics;
using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep.Heuristics;
using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// DeepEP's <c>Buffer</c>: the communication buffers of one rank of an expert-parallel group and the MoE
/// dispatch/combine operations over them, in normal mode (training, prefill) and low-latency mode (decode).
/// Every method validates its arguments before anything is launched and throws an <see cref="ArgumentException"/>
/// naming the argument and what would be valid. All ranks must call the same operations in the same order.
/// </summary>
public sealed partial class EpBuffer : IDisposable
{
    /// <summary>The top-k index element type (DeepEP's <c>topk_idx_t</c>).</summary>
    public const DType TopkIdxDType = DType.Int64;

    /// <summary>Most top-k slots per token.</summary>
    public const int MaxTopk = 32;

    /// <summary>Most local experts per rank.</summary>
    public const int MaxLocalExperts = 1024;

    private readonly IEpBackend _backend;
    private bool _destroyed;

    /// <summary>Creates the buffers of this rank; collective over <paramref name="group"/>.</summary>
    /// <param name="group">The expert-parallel group.</param>
    /// <param name="numNvlBytes">Bytes of the normal-mode (NVLink) buffer; a multiple of 128 (see <see cref="EpConfig.GetNvlBufferSizeHint(long, int, int, int)"/>, which covers one process per GPU).</param>
    /// <param name="numRdmaBytes">Bytes of the low-latency buffer; a multiple of 128 (see <see cref="GetLowLatencyRdmaSizeHint"/>).</param>
    /// <param name="lowLatencyMode">Enables the low-latency operations.</param>
    /// <param name="options">Backend, device, masking, timeouts, logging.</param>
    public EpBuffer(ProcessGroup group, long numNvlBytes = 0, long numRdmaBytes = 0, bool lowLatencyMode = false, EpBufferOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(group);
        TensorChecks.That(numNvlBytes >= 0 && numNvlBytes % BufferSizeHints.Alignment == 0, nameof(numNvlBytes),
            $"numNvlBytes ({numNvlBytes}) must be a non-negative multiple of {BufferSizeHints.Alignment}; use EpConfig.GetNvlBufferSizeHint.");
        TensorChecks.That(numRdmaBytes >= 0 && numRdmaBytes % BufferSizeHints.Alignment == 0, nameof(numRdmaBytes),
            $"numRdmaBytes ({numRdmaBytes}) must be a non-negative multiple of {BufferSizeHints.Alignment}; use EpBuffer.GetLowLatencyRdmaSizeHint.");
        long started = Stopwatch.GetTimestamp();
        Options = options ?? new EpBufferOptions();
        (ExpertTokenNumsType, Bf16Dispatch, _debugLog, _ownedLoggerFactory) = ResolveKnobs(Options);
        Timeout = EpEnvironment.ResolveTimeout(Options.Timeout, "options.Timeout");
        Group = group;
        NumNvlBytes = numNvlBytes;
        NumRdmaBytes = numRdmaBytes;
        LowLatencyMode = lowLatencyMode;
        // Every backend gets the resolved deadline, so none reads the environment on its own.
        try
        {
            _backend = BackendFactory.Create(group, Options with { Timeout = Timeout }, numNvlBytes, lowLatencyMode ? numRdmaBytes : 0);
        }
        catch
        {
            _ownedLoggerFactory?.Dispose();
            throw;
        }
        if (_debugLog is { } log && log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            DebugEnd(started, "Create", $"numNvlBytes={numNvlBytes}, numRdmaBytes={numRdmaBytes}, lowLatencyMode={lowLatencyMode}, device={Device}, " +
                $"timeout={Timeout.TotalSeconds} s, expertTokenNumsType={ExpertTokenNumsType}, bf16Dispatch={Bf16Dispatch}");
        }
    }

    /// <summary>SMs used by default configurations (DeepEP's class attribute <c>Buffer.num_sms</c>, default 20).</summary>
    public static int NumSms { get; private set; } = 20;

    /// <summary>True once <see cref="SetNumSms"/> was called: then it wins over counts saved by <c>deepep tune</c>.</summary>
    private static bool s_numSmsChosen;

    /// <summary>This rank.</summary>
    public int Rank => Group.Rank;

    /// <summary>Number of ranks R.</summary>
    public int GroupSize => Group.Size;

    /// <summary>The process group.</summary>
    public ProcessGroup Group { get; }

    /// <summary>Normal-mode buffer bytes.</summary>
    public long NumNvlBytes { get; }

    /// <summary>Low-latency buffer bytes.</summary>
    public long NumRdmaBytes { get; }

    /// <summary>Whether low-latency operations are enabled.</summary>
    public bool LowLatencyMode { get; }

    /// <summary>
    /// The deadline of every wait of this buffer, on the GPU and the host: <see cref="EpBufferOptions.Timeout"/>, else
    /// <c>DEEPEP_TIMEOUT_S</c>, else 100 s.
    /// </summary>
    public TimeSpan Timeout { get; }

    /// <summary>The options this buffer was created with.</summary>
    public EpBufferOptions Options { get; }

    /// <summary>The engine in use.</summary>
    public EpBackendKind Backend => _backend.Kind;

    /// <summary>Device of this rank's tensors (<see cref="DeviceTensor.HostDevice"/> for the host backend).</summary>
    public int Device => _backend.Device;

    /// <summary>
    /// SMs this rank may use at once: its GPU's SM count divided by the ranks of the group sharing a GPU (the smallest
    /// share in the group), 0 on the host backend. A normal-mode <see cref="EpConfig.NumSms"/> above it is refused,
    /// since ranks on one GPU wait for each other's kernels; low-latency grids are clamped to it.
    /// </summary>
    public int SmBudget => _backend.SmBudget;

    /// <summary>
    /// The GPU a rank of <paramref name="group"/> uses when <see cref="EpBufferOptions.Device"/> is not set: its local
    /// rank modulo the visible devices (ranks as threads: rank % count; one process per rank: LOCAL_RANK % count), so
    /// more ranks than GPUs share them round-robin.
    /// </summary>
    /// <exception cref="GpuUnavailableException">No GPU is usable.</exception>
    public static int GetDefaultDevice(ProcessGroup group) =>
        (group ?? throw new ArgumentNullException(nameof(group))).LocalRank % CudaDevice.Count;

    /// <summary>Sets the SM count of default configurations (DeepEP's <c>Buffer.set_num_sms</c>); must be even and positive.</summary>
    public static void SetNumSms(int numSms)
    {
        TensorChecks.That(numSms > 0 && numSms % 2 == 0, nameof(numSms), $"numSms ({numSms}) must be even and positive: kernels use two blocks per channel.");
        NumSms = numSms;
        s_numSmsChosen = true;
    }

    /// <summary>
    /// The default dispatch configuration for <paramref name="numRanks"/> ranks: the SM count <c>deepep tune</c> saved
    /// for this GPU model and rank count, else <see cref="NumSms"/> (always <see cref="NumSms"/> after <see cref="SetNumSms"/>).
    /// </summary>
    public static EpConfig GetDispatchConfig(int numRanks) => DefaultConfigs.For(numRanks, Tuned(numRanks) ?? NumSms, combine: false);

    /// <summary>The default combine configuration for <paramref name="numRanks"/> ranks, chosen as <see cref="GetDispatchConfig"/> is.</summary>
    public static EpConfig GetCombineConfig(int numRanks) => DefaultConfigs.For(numRanks, Tuned(numRanks) ?? NumSms, combine: true);

    private static int? Tuned(int numRanks) =>
        s_numSmsChosen || !CudaDevice.IsAvailable ? null : TunedConfigs.Lookup(CudaDevice.Get(0).Name, numRanks);

    /// <summary>Bytes of <c>numRdmaBytes</c> that low-latency mode needs (spec §5.1).</summary>
    public static long GetLowLatencyRdmaSizeHint(int numMaxDispatchTokensPerRank, int hidden, int numRanks, int numExperts)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numMaxDispatchTokensPerRank);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numExperts);
        return BufferSizeHints.LowLatencySizeHint(numMaxDispatchTokensPerRank, hidden, numRanks, numExperts);
    }

    /// <summary>An event recorded now on <paramref name="stream"/> (DeepEP's <c>Buffer.capture()</c>), to pass as <c>previousEvent</c>; use <c>CudaStream.ForDevice(device)</c> for the library stream.</summary>
    public static EventOverlap Capture(CudaStream stream) => new((stream ?? throw new ArgumentNullException(nameof(stream))).RecordEvent());

    /// <summary>Computes the dispatch layout of <paramref name="topkIdx"/> (spec §1).</summary>
    /// <param name="topkIdx"><c>[T, K]</c> Int64 expert ids, -1 for a masked slot.</param>
    /// <param name="numExperts">E, divisible by the group size.</param>
    /// <param name="previousEvent">Event to wait on before starting; null waits on the current stream.</param>
    /// <param name="asyncFinish">Return an event instead of making the current stream wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream (needs the two above).</param>
    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, EventOverlap? previousEvent = null, bool asyncFinish = false, bool allocateOnCommStream = false)
    {
        long started = DebugStart();
        EnsureUsable();
        CheckNumExperts(numExperts, nameof(numExperts));
        TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        CheckTopk(topkIdx, nameof(topkIdx), numExperts);
        DispatchLayout layout = _backend.GetDispatchLayout(topkIdx, numExperts, Streams(previousEvent, asyncFinish, allocateOnCommStream));
        if (started != 0)
        {
            DebugEnd(started, nameof(GetDispatchLayout), $"topkIdx={topkIdx.Describe()}, numExperts={numExperts}, asyncFinish={asyncFinish}, allocateOnCommStream={allocateOnCommStream}");
        }
        return layout;
    }

    /// <summary>
    /// Normal-mode dispatch (spec §2): sends each token once to every rank owning one of its experts. Without
    /// <paramref name="handle"/> it needs the layout tensors; with a handle it is a cached dispatch (same routing,
    /// new data, no host synchronisation, no new handle).
    /// </summary>
    /// <param name="x"><c>[T, H]</c> BF16 (H*2 a multiple of 16), or FP8 E4M3 / INT8 (H a multiple of 16, with <paramref name="xScales"/>); rows arrive byte for byte.</param>
    /// <param name="xScales">FP8: <c>[T, S]</c> Float32 or Int32 (UE8M0) scales; INT8: <c>[T, S]</c> Float32 (<c>[T, 1]</c> from <see cref="Int8Cast.PerTokenCast"/>); any strides (column-major works).</param>
    /// <param name="handle">A handle from an earlier dispatch for a cached dispatch.</param>
    /// <param name="numTokensPerRank"><c>[R]</c> Int32 from <see cref="GetDispatchLayout"/>.</param>
    /// <param name="numTokensPerRdmaRank">Internode only; must be null within one NVLink domain.</param>
    /// <param name="isTokenInRank"><c>[T, R]</c> Bool from <see cref="GetDispatchLayout"/>.</param>
    /// <param name="numTokensPerExpert"><c>[E]</c> Int32 from <see cref="GetDispatchLayout"/>.</param>
    /// <param name="topkIdx"><c>[T, K]</c> Int64, given together with <paramref name="topkWeights"/>.</param>
    /// <param name="topkWeights"><c>[T, K]</c> Float32.</param>
    /// <param name="expertAlignment">Round each per-expert receive count up to a multiple of this (≥ 1).</param>
    /// <param name="numWorstTokens">If &gt; 0: no host synchronisation, outputs sized to this many rows (needs top-k).</param>
    /// <param name="config">Kernel configuration; null uses <see cref="GetDispatchConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting.</param>
    /// <param name="asyncFinish">Return an event instead of making the current stream wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream.</param>
    public DispatchResult Dispatch(
        DeviceTensor x,
        DeviceTensor? xScales = null,
        DispatchHandle? handle = null,
        DeviceTensor? numTokensPerRank = null,
        DeviceTensor? numTokensPerRdmaRank = null,
        DeviceTensor? isTokenInRank = null,
        DeviceTensor? numTokensPerExpert = null,
        DeviceTensor? topkIdx = null,
        DeviceTensor? topkWeights = null,
        int expertAlignment = 1,
        int numWorstTokens = 0,
        EpConfig? config = null,
        EventOverlap? previousEvent = null,
        bool asyncFinish = false,
        bool allocateOnCommStream = false)
    {
        long started = DebugStart();
        EnsureUsable();
        config ??= GetDispatchConfig(GroupSize);
        CheckConfig(config);
        StreamOptions streams = Streams(previousEvent, asyncFinish, allocateOnCommStream);
        long tokens = CheckDispatchPayload(x, xScales);
        TensorChecks.That(numTokensPerRdmaRank is null, nameof(numTokensPerRdmaRank),
            "numTokensPerRdmaRank applies to internode dispatch only; pass null within one NVLink domain.");
        TensorChecks.That(expertAlignment >= 1, nameof(expertAlignment), $"expertAlignment ({expertAlignment}) must be at least 1.");
        TensorChecks.That(numWorstTokens >= 0, nameof(numWorstTokens), $"numWorstTokens ({numWorstTokens}) must be 0 (off) or positive.");

        if (handle is not null)
        {
            TensorChecks.That(topkIdx is null && topkWeights is null, nameof(handle), "A cached dispatch (handle given) takes no topkIdx/topkWeights: the handle already fixes the routing.");
            TensorChecks.That(numTokensPerRank is null && isTokenInRank is null && numTokensPerExpert is null, nameof(handle), "A cached dispatch (handle given) takes no layout tensors.");
            TensorChecks.That(numWorstTokens == 0, nameof(numWorstTokens), "numWorstTokens applies to non-cached dispatch only; a cached dispatch already knows its receive count.");
            CheckHandle(handle, config, tokens);
            CheckNvlCapacity();
            DispatchResult cached = _backend.Dispatch(new NormalDispatchRequest(x, xScales, handle, null, null, null, null, null, 0, expertAlignment, 0, config, streams));
            if (started != 0)
            {
                DebugEnd(started, nameof(Dispatch), $"cached, x={x.Describe()}, xScales={Describe(xScales)}, numRecvTokens={handle.NumRecvTokens}, config={config}, asyncFinish={asyncFinish}");
            }
            return cached;
        }

        int numExperts = CheckLayout(numTokensPerRank, isTokenInRank, numTokensPerExpert, tokens);
        TensorChecks.That((topkIdx is null) == (topkWeights is null), topkIdx is null ? nameof(topkIdx) : nameof(topkWeights),
            "topkIdx and topkWeights must be given together or both omitted.");
        int numTopk = 0;
        if (topkIdx is not null)
        {
            TensorChecks.Require(topkIdx, nameof(topkIdx), TopkIdxDType, Device, [tokens, TensorChecks.AnySize]);
            numTopk = (int)topkIdx.Size(1);
            TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [tokens, numTopk]);
            CheckTopk(topkIdx, nameof(topkIdx), numExperts);
        }
        TensorChecks.That(numWorstTokens == 0 || topkIdx is not null, nameof(numWorstTokens), "numWorstTokens > 0 needs topkIdx and topkWeights (the padded rows are marked by -1 top-k).");
        CheckNvlCapacity();
        DispatchResult result = ShapeExpertCounts(_backend.Dispatch(new NormalDispatchRequest(x, xScales, null, numTokensPerRank, isTokenInRank, numTokensPerExpert,
            topkIdx, topkWeights, numExperts, expertAlignment, numWorstTokens, config, streams)));
        if (started != 0)
        {
            DebugEnd(started, nameof(Dispatch), $"x={x.Describe()}, xScales={Describe(xScales)}, topkIdx={Describe(topkIdx)}, numExperts={numExperts}, " +
                $"expertAlignment={expertAlignment}, numWorstTokens={numWorstTokens}, config={config}, asyncFinish={asyncFinish}, recvX={result.RecvX.Describe()}, " +
                $"numRecvTokensPerExpertList ({ExpertTokenNumsType})=[{string.Join(", ", result.NumRecvTokensPerExpertList)}]");
        }
        return result;
    }

    /// <summary>
    /// Normal-mode combine (spec §3): for each original token, the bias plus the unweighted sum of the rows every
    /// rank returns for it, in rank order, accumulated in fp32; top-k weights are summed the same way.
    /// </summary>
    /// <param name="x"><c>[M, H]</c> BF16 in the row order of the dispatch output.</param>
    /// <param name="handle">The handle of that dispatch (its <c>SendHead</c> is rewritten in place, as upstream).</param>
    /// <param name="topkWeights">Optional <c>[M, K]</c> Float32 to sum back per token.</param>
    /// <param name="bias">Zero, one or two <c>[T, H]</c> BF16 tensors added first, indexed by original token.</param>
    /// <param name="config">Kernel configuration with the dispatch's SM count; null uses <see cref="GetCombineConfig"/>.</param>
    /// <param name="previousEvent">Event to wait on before starting.</param>
    /// <param name="asyncFinish">Return an event instead of making the current stream wait.</param>
    /// <param name="allocateOnCommStream">Allocate outputs on the communication stream.</param>
    public CombineResult Combine(
        DeviceTensor x,
        DispatchHandle handle,
        DeviceTensor? topkWeights = null,
        IReadOnlyList<DeviceTensor>? bias = null,
        EpConfig? config = null,
        EventOverlap? previousEvent = null,
        bool asyncFinish = false,
        bool allocateOnCommStream = false)
    {
        long started = DebugStart();
        EnsureUsable();
        ArgumentNullException.ThrowIfNull(handle);
        config ??= GetCombineConfig(GroupSize);
        CheckConfig(config);
        StreamOptions streams = Streams(previousEvent, asyncFinish, allocateOnCommStream);
        long tokens = handle.NumTokens;
        CheckHandle(handle, config, tokens);
        TensorChecks.That(x is not null && x.DType == DType.BFloat16, nameof(x), $"Combine takes BF16 only (FP8 is dispatch-only); got {x?.Describe() ?? "null"}.");
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [handle.NumRecvTokens, TensorChecks.AnySize]);
        long hidden = x!.Size(1);
        TensorChecks.That(hidden * 2 % 16 == 0, nameof(x), $"The hidden size {hidden} must make rows a multiple of 16 bytes (H a multiple of 8 for BF16).");
        int numTopk = 0;
        if (topkWeights is not null)
        {
            TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [handle.NumRecvTokens, TensorChecks.AnySize]);
            numTopk = (int)topkWeights.Size(1);
            TensorChecks.That(numTopk <= MaxTopk, nameof(topkWeights), $"topkWeights has {numTopk} columns; at most {MaxTopk} are supported.");
        }
        TensorChecks.That(bias is null || bias.Count <= 2, nameof(bias), $"bias takes at most two tensors; got {bias?.Count}.");
        for (int i = 0; bias is not null && i < bias.Count; i++)
        {
            TensorChecks.Require(bias[i], $"{nameof(bias)}[{i}]", DType.BFloat16, Device, [tokens, hidden]);
        }
        CheckNvlCapacity();
        DeviceTensor? bias0 = bias is { Count: > 0 } ? bias[0] : null;
        DeviceTensor? bias1 = bias is { Count: > 1 } ? bias[1] : null;
        CombineResult result = _backend.Combine(new NormalCombineRequest(x, handle, topkWeights, bias0, bias1, config, streams));
        if (started != 0)
        {
            DebugEnd(started, nameof(Combine), $"x={x.Describe()}, topkWeights={Describe(topkWeights)}, bias={bias?.Count ?? 0}, numTokens={tokens}, config={config}, asyncFinish={asyncFinish}");
        }
        return result;
    }

    /// <summary>Releases the buffers collectively (DeepEP's <c>destroy()</c>); needs <see cref="EpBufferOptions.ExplicitlyDestroy"/>.</summary>
    public void Destroy()
    {
        if (!Options.ExplicitlyDestroy)
        {
            throw new InvalidOperationException("Destroy() needs EpBufferOptions.ExplicitlyDestroy; otherwise Dispose() releases the buffer.");
        }
        Release(nameof(Destroy));
    }

    /// <summary>Releases the buffers (collective: every rank must dispose). With <see cref="EpBufferOptions.ExplicitlyDestroy"/>, call <see cref="Destroy"/> first.</summary>
    public void Dispose()
    {
        if (Options.ExplicitlyDestroy && !_destroyed)
        {
            throw new InvalidOperationException("This EpBuffer was created with ExplicitlyDestroy: call Destroy() before disposing it.");
        }
        Release(nameof(Dispose));
    }

    private void Release(string operation)
    {
        if (!_destroyed)
        {
            long started = DebugStart();
            _destroyed = true;
            _backend.Dispose();
            if (started != 0)
            {
                DebugEnd(started, operation, $"numNvlBytes={NumNvlBytes}, numRdmaBytes={NumRdmaBytes}");
            }
            _ownedLoggerFactory?.Dispose();
        }
    }
}
