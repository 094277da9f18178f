using System.Globalization;
using System.Runtime.CompilerServices;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>
/// What every kernel program is compiled with: the shared constants (<see cref="KernelLimits"/>, checked by each
/// header's <c>DEEPEP_CHECK_CONSTANT</c>) and the sizes of every C# parameter-struct twin (<see cref="Twins"/>, checked by
/// <c>DEEPEP_CHECK_PARAMS_SIZE</c>), so a drift fails the compile. Each twin's field offsets are checked against the C++
/// struct's by a test that compiles with NVRTC (<c>Jit/KernelAbiTests</c>).
/// </summary>
internal static class KernelDefines
{
    /// <summary>The C# twins of the kernels' parameter structs, each with the define its size is passed in.</summary>
    public static IReadOnlyList<ParamsTwin> Twins { get; } =
    [
        Twin<KernelDiagnostics>("DEEPEP_KERNEL_DIAGNOSTICS_SIZE"),
        Twin<DispatchLayoutParams>("DEEPEP_DISPATCH_LAYOUT_PARAMS_SIZE"),
        Twin<ChannelLayoutParams>("DEEPEP_CHANNEL_LAYOUT_PARAMS_SIZE"),
        Twin<BarrierParams>("DEEPEP_BARRIER_PARAMS_SIZE"),
        Twin<NotifyDispatchParams>("DEEPEP_NOTIFY_DISPATCH_PARAMS_SIZE"),
        Twin<DispatchSource>("DEEPEP_DISPATCH_SOURCE_SIZE"),
        Twin<IntranodeDispatchParams>("DEEPEP_DISPATCH_PARAMS_SIZE"),
        Twin<MarkPaddingParams>("DEEPEP_MARK_PADDING_PARAMS_SIZE"),
        Twin<RewriteSendHeadParams>("DEEPEP_REWRITE_SEND_HEAD_PARAMS_SIZE"),
        Twin<CombineTarget>("DEEPEP_COMBINE_TARGET_SIZE"),
        Twin<IntranodeCombineParams>("DEEPEP_COMBINE_PARAMS_SIZE"),
        Twin<LowLatencyCall>("DEEPEP_LOW_LATENCY_CALL_SIZE"),
        Twin<LowLatencyDispatchParams>("DEEPEP_LOW_LATENCY_DISPATCH_PARAMS_SIZE"),
        Twin<LowLatencyCombineParams>("DEEPEP_LOW_LATENCY_COMBINE_PARAMS_SIZE"),
        Twin<NcclPackParams>("DEEPEP_NCCL_PACK_PARAMS_SIZE"),
        Twin<NcclReduceParams>("DEEPEP_NCCL_REDUCE_PARAMS_SIZE"),
        Twin<NcclLowLatencyPackParams>("DEEPEP_NCCL_LL_PACK_PARAMS_SIZE"),
        Twin<NcclLowLatencyUnpackParams>("DEEPEP_NCCL_LL_UNPACK_PARAMS_SIZE"),
        Twin<NcclLowLatencyGatherParams>("DEEPEP_NCCL_LL_GATHER_PARAMS_SIZE"),
        Twin<NcclLowLatencyReduceParams>("DEEPEP_NCCL_LL_REDUCE_PARAMS_SIZE"),
        Twin<Fp8CastRuntime.Parameters>("DEEPEP_FP8_CAST_PARAMS_SIZE"),
        Twin<LogFmtCodecParams>("DEEPEP_LOGFMT_CODEC_PARAMS_SIZE"),
        Twin<Int8CastParams>("DEEPEP_INT8_CAST_PARAMS_SIZE"),
        Twin<InclusiveScanParams>("DEEPEP_INCLUSIVE_SCAN_PARAMS_SIZE"),
        Twin<ExpansionParams>("DEEPEP_EXPANSION_PARAMS_SIZE"),
        Twin<GroupedGemmParams>("DEEPEP_GROUPED_GEMM_PARAMS_SIZE"),
        Twin<SwigluQuantParams>("DEEPEP_SWIGLU_QUANT_PARAMS_SIZE"),
        Twin<Fp8BlockCastParams>("DEEPEP_FP8_BLOCK_CAST_PARAMS_SIZE"),
    ];

    /// <summary>The defines of every program: constants, then the twins' sizes.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> All { get; } =
    [
        Constant("DEEPEP_MAX_RANKS", KernelLimits.MaxRanks),
        Constant("DEEPEP_MAX_LOCAL_EXPERTS", KernelLimits.MaxLocalExperts),
        Constant("DEEPEP_MAX_CHANNELS", KernelLimits.MaxChannels),
        Constant("DEEPEP_MAILBOX_WORDS", KernelLimits.MailboxWords),
        Constant("DEEPEP_MAX_TOPK", KernelLimits.MaxTopk),
        Constant("DEEPEP_LOW_LATENCY_THREADS", KernelLimits.LowLatencyThreads),
        Constant("DEEPEP_LOW_LATENCY_BLOCKS_PER_SM", KernelLimits.LowLatencyBlocksPerSm),
        Constant("DEEPEP_LOW_LATENCY_SHAPE_STAMPS_OFFSET", KernelLimits.LowLatencyShapeStampsOffset),
        Constant("DEEPEP_DISPATCH_WARPS", KernelLimits.DispatchWarps),
        Constant("DEEPEP_COMBINE_WARPS", KernelLimits.CombineWarps),
        Constant("DEEPEP_STAGING_WARPS", KernelLimits.StagingWarps),
        Constant("DEEPEP_NCCL_LOW_LATENCY_WARPS", KernelLimits.NcclLowLatencyWarps),
        Constant("DEEPEP_FP8_CAST_WARPS", KernelLimits.Fp8CastWarps),
        Constant("DEEPEP_LOGFMT_MAX_GROUPS", KernelLimits.LogFmtMaxGroups),
        Constant("DEEPEP_LOGFMT_THREADS", KernelLimits.LogFmtThreads),
        Constant("DEEPEP_INT8_CAST_THREADS", KernelLimits.Int8CastThreads),
        Constant("DEEPEP_EXPANSION_THREADS", KernelLimits.ExpansionThreads),
        Constant("DEEPEP_GEMM_TILE_ROWS", KernelLimits.GemmTileRows),
        Constant("DEEPEP_GEMM_TILE_COLS", KernelLimits.GemmTileCols),
        Constant("DEEPEP_GEMM_THREADS", KernelLimits.GemmThreads),
        Constant("DEEPEP_GEMM_STAGES", KernelLimits.GemmStages),
        Constant("DEEPEP_GEMM_SHARED_BYTES", KernelLimits.GemmSharedBytes),
        Constant("DEEPEP_SWIGLU_QUANT_THREADS", KernelLimits.SwigluQuantThreads),
        Constant("DEEPEP_FP8_BLOCK_CAST_THREADS", KernelLimits.Fp8BlockCastThreads),
        Constant("DEEPEP_CHANNELS_PER_SCALE", Fp8Cast.ChannelsPerScale),
        Constant("DEEPEP_SCALES_PER_UE8M0_WORD", Fp8Cast.ScalesPerUe8m0Word),
        .. Twins.Select(twin => Constant(twin.SizeMacro, twin.Size)),
        Constant("DEEPEP_NUM_PHASES", PhaseTrace.Phases.Count),
        Constant("DEEPEP_COMM_HEADER_SIZE", KernelLimits.CommHeaderBytes),
        Constant("DEEPEP_LOW_LATENCY_CONTROL_SIZE", LowLatencyKernels.ControlBytes),
    ];

    private static KeyValuePair<string, string> Constant(string macro, int value) => new(macro, value.ToString(CultureInfo.InvariantCulture));

    private static ParamsTwin Twin<T>(string sizeMacro)
        where T : unmanaged => new(typeof(T), sizeMacro, Unsafe.SizeOf<T>());
}

/// <summary>A C# twin of a kernel parameter struct: its type, the define that carries its size, and the size in bytes.</summary>
internal readonly record struct ParamsTwin(Type Type, string SizeMacro, int Size);
