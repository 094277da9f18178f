using System.Diagnostics;
using DeepEP.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DeepEP.Ep;

/// <summary>
/// The DeepEP-Ascend/SGLang knobs that act in this facade, the same on every backend: debug-mode operation logging
/// (<c>DEBUG_MODE</c>), the shape of the per-expert counts (<c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>) and BF16 low-latency
/// dispatch (<c>SGLANG_DEEPEP_BF16_DISPATCH</c>). Each is read once, when the buffer is created.
/// </summary>
public sealed partial class EpBuffer
{
    private readonly ILogger? _debugLog;
    private readonly ILoggerFactory? _ownedLoggerFactory;

    /// <summary>
    /// What normal-mode <see cref="DispatchResult.NumRecvTokensPerExpertList"/> holds: <see cref="EpBufferOptions.ExpertTokenNumsType"/>,
    /// else <c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>, else <see cref="Ep.ExpertTokenNumsType.Counts"/>; also what low-latency
    /// <see cref="LowLatencyDispatchResult.PackedRecvCount"/> holds. A dispatch call's <c>expertTokenNumsType</c> overrides it.
    /// </summary>
    public ExpertTokenNumsType ExpertTokenNumsType { get; }

    /// <summary>
    /// Whether <see cref="LowLatencyDispatch"/> sends BF16 even when <c>useFp8</c> is asked (the result is then exactly
    /// that of <c>useFp8: false</c>): <see cref="EpBufferOptions.Bf16Dispatch"/>, else <c>SGLANG_DEEPEP_BF16_DISPATCH</c>, else false.
    /// </summary>
    public bool Bf16Dispatch { get; }

    /// <summary>
    /// Whether normal dispatch quantises BF16 rows to INT8 (per-token Float32 scales) before sending them:
    /// <see cref="EpBufferOptions.NormalInt8Quant"/>, else <c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c>, else false. A dispatch
    /// call's <c>useInt8Quant</c> overrides it.
    /// </summary>
    public bool NormalInt8Quant { get; }

    /// <summary>
    /// Whether every operation logs its parameters and time at Debug level: <see cref="EpBufferOptions.DebugMode"/>,
    /// else <c>DEBUG_MODE</c>, else false.
    /// </summary>
    public bool DebugMode => _debugLog is not null;

    /// <summary>Reads the knobs: each option wins over its variable, which is read (and validated) only when the option is null.</summary>
    private static (ExpertTokenNumsType Nums, bool Bf16, bool Int8, ILogger? Log, ILoggerFactory? Owned) ResolveKnobs(EpBufferOptions options)
    {
        EpEnvironment environment = EpEnvironment.Current;
        ExpertTokenNumsType nums = options.ExpertTokenNumsType ?? environment.ExpertTokenNumsType ?? ExpertTokenNumsType.Counts;
        if (!Enum.IsDefined(nums))
        {
            throw new ArgumentOutOfRangeException(nameof(options), nums, "options.ExpertTokenNumsType must be Counts (1) or PrefixSums (0).");
        }
        bool bf16 = options.Bf16Dispatch ?? environment.Bf16Dispatch ?? false;
        bool int8 = options.NormalInt8Quant ?? environment.NormalInt8Quant ?? false;
        if (!(options.DebugMode ?? environment.DebugMode ?? false))
        {
            return (nums, bf16, int8, null, null);
        }
        ILoggerFactory? owned = options.LoggerFactory is null
            ? Microsoft.Extensions.Logging.LoggerFactory.Create(builder => builder
                .SetMinimumLevel(LogLevel.Debug)
                .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace))
            : null;
        ILogger log = (options.LoggerFactory ?? owned ?? NullLoggerFactory.Instance).CreateLogger<EpBuffer>();
        return (nums, bf16, int8, log, owned);
    }

    /// <summary>The start timestamp of an operation when debug logging is on, else 0 (nothing else is done).</summary>
    private long DebugStart() => _debugLog is { } log && log.IsEnabled(LogLevel.Debug) ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Logs one operation; call only when <see cref="DebugStart"/> returned non-zero, so parameters are formatted only then.</summary>
    private void DebugEnd(long start, string operation, string parameters) =>
        EpBufferLog.Operation(_debugLog!, operation, Rank, GroupSize, Backend, parameters, Stopwatch.GetElapsedTime(start).TotalMicroseconds);

    private static string Describe(DeviceTensor? tensor) => tensor?.Describe() ?? "null";
}

/// <summary>The debug-mode log message of <see cref="EpBuffer"/>.</summary>
internal static partial class EpBufferLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "EpBuffer.{Operation} rank {Rank}/{GroupSize} backend {Backend}: {Parameters}; {Microseconds:0.0} us")]
    public static partial void Operation(ILogger logger, string operation, int rank, int groupSize, EpBackendKind backend, string parameters, double microseconds);
}
