using System.Diagnostics;
using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep.Heuristics;
using DeepEP.Runtimes;
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
    public const int MaxTopk = KernelLimits.MaxTopk;

    /// <summary>Most local experts per rank.</summary>
    public const int MaxLocalExperts = KernelLimits.MaxLocalExperts;

    private readonly IEpBackend _backend;
    private bool _destroyed;

    /// <summary>Creates the buffers of this rank; collective over <paramref name="group"/>.</summary>
    /// <param name="group">The expert-parallel group.</param>
    /// <param name="numNvlBytes">Bytes of the normal-mode (NVLink) buffer; a multiple of 128 (see <see cref="EpConfig.GetNvlBufferSizeHint(long, int, int, int)"/>, which covers one process per GPU).</param>
    /// <param name="numRdmaBytes">Bytes of the low-latency buffer; a multiple of 128 (see <see cref="GetLowLatencyRdmaSizeHint(int, int, int, int)"/>, or the overload with shared-expert ranks).</param>
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
        SharedExpertRankNum = ResolveSharedExpertRankNum(Options, group.Size);
        (ExpertTokenNumsType, Bf16Dispatch, NormalInt8Quant, _debugLog, _ownedLoggerFactory) = ResolveKnobs(Options);
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
                $"timeout={Timeout.TotalSeconds} s, expertTokenNumsType={ExpertTokenNumsType}, bf16Dispatch={Bf16Dispatch}, normalInt8Quant={NormalInt8Quant}, sharedExpertRankNum={SharedExpertRankNum}");
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
