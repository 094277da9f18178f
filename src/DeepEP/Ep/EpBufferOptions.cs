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

    /// <summary>Low-latency mode survives dead ranks: a peer that misses the deadline is masked instead of failing (DeepEP's <c>enable_shrink</c>).</summary>
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

    /// <summary>Where diagnostics go; null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
