using Microsoft.Extensions.Logging;

namespace DeepEP.Ep;

/// <summary>Construction options of an <see cref="EpBuffer"/> beyond DeepEP's positional arguments.</summary>
public sealed record EpBufferOptions
{
    /// <summary>
    /// The engine; null chooses from <c>DEEPEP_BACKEND</c> (or <c>DEEP_USE_MODE</c>), else <see cref="EpBackendKind.Kernels"/>
    /// when a GPU is visible and <see cref="EpBackendKind.Host"/> otherwise.
    /// </summary>
    public EpBackendKind? Backend { get; init; }

    /// <summary>CUDA device for this rank; null uses the group's local rank.</summary>
    public int? Device { get; init; }

    /// <summary>
    /// Low-latency mode survives dead ranks: a peer that misses the deadline is masked instead of failing (DeepEP's
    /// <c>enable_shrink</c>). On the host backend it needs an in-process group (a TCP group is refused at creation),
    /// and <see cref="EpBuffer.LowLatencyCleanMaskBuffer"/> is a collective of every rank that readmits masked ranks.
    /// </summary>
    public bool EnableShrink { get; init; }

    /// <summary>Require <see cref="EpBuffer.Destroy"/> before disposal, as DeepEP's <c>explicitly_destroy</c>.</summary>
    public bool ExplicitlyDestroy { get; init; }

    /// <summary>Check every top-k expert id on the host before launching (copies <c>topk_idx</c> off the device; skipped during graph capture).</summary>
    public bool ValidateExpertIds { get; init; } = true;

    /// <summary>Deadline of every wait, on the GPU and the host; null uses <c>DEEPEP_TIMEOUT_S</c> (default 100 s).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// An NCCL communicator (<c>ncclComm_t</c>) the nccl backend uses instead of creating its own, e.g. PyTorch's: it must
    /// span the group's ranks in order, this rank on this buffer's device. The caller keeps owning it; 0 (the default)
    /// makes the buffer create one.
    /// </summary>
    public nint NcclCommunicator { get; init; }

    /// <summary>
    /// Where diagnostics go: with <see cref="DebugMode"/> on, every operation's parameters and timing at Debug level.
    /// Null logs nothing, except that debug mode then writes to a console logger.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// What normal-mode <see cref="DispatchResult.NumRecvTokensPerExpertList"/> and low-latency
    /// <see cref="LowLatencyDispatchResult.PackedRecvCount"/> hold; null uses <c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>, else
    /// <see cref="ExpertTokenNumsType.Counts"/>. Each dispatch call may override it.
    /// </summary>
    public ExpertTokenNumsType? ExpertTokenNumsType { get; init; }

    /// <summary>
    /// Low-latency dispatch sends BF16 even when <c>useFp8</c> is asked (DeepEP-Ascend's decode setting); null uses
    /// <c>SGLANG_DEEPEP_BF16_DISPATCH</c>, else false.
    /// </summary>
    public bool? Bf16Dispatch { get; init; }

    /// <summary>
    /// Normal dispatch of BF16 rows quantises them to INT8 with a Float32 scale per token first (DeepEP-Ascend's
    /// dynamic quantisation; the result is that of dispatching <see cref="Tensors.Int8Cast.PerTokenCast"/>'s output); null uses
    /// <c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c>, else false. Each dispatch call may override it (<c>useInt8Quant</c>).
    /// </summary>
    public bool? NormalInt8Quant { get; init; }

    /// <summary>
    /// Log every operation's parameters (shapes, dtypes, counts, configuration, backend, time in µs) at Debug level to
    /// <see cref="LoggerFactory"/> (a console logger when that is null); null uses <c>DEBUG_MODE</c>, else false.
    /// </summary>
    public bool? DebugMode { get; init; }

    /// <summary>
    /// DeepEP-Ascend's shared-expert ranks (<c>shared_expert_rank_num</c>, <c>expert_shard_type=0</c>): the first N ranks
    /// each hold one replica of the shared expert and the routed experts live on the other ranks; low-latency dispatch
    /// also sends every token to shared rank <c>sourceRank % N</c> and combine adds that output with weight 1. Null uses
    /// <c>MOE_SHARED_EXPERT_RANK_NUM</c>, else 0 (off). Must be below the group size; normal mode ignores it.
    /// </summary>
    public int? SharedExpertRankNum { get; init; }
}
