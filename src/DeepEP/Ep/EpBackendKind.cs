namespace DeepEP.Ep;

/// <summary>Which engine moves the tokens (see <c>docs/architecture.md</c>).</summary>
public enum EpBackendKind
{
    /// <summary>Our NVLink kernels (<c>DEEPEP_BACKEND=kernels</c>, alias <c>DEEP_USE_MODE=default</c>).</summary>
    Kernels,
    /// <summary>NCCL all-to-all, any topology (<c>DEEPEP_BACKEND=nccl</c>, alias <c>DEEP_USE_MODE=alltoall</c>).</summary>
    Nccl,
    /// <summary>The CPU reference: host tensors, ranks as threads or processes (<c>DEEPEP_BACKEND=host</c>).</summary>
    Host,
}
