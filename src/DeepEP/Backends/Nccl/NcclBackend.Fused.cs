using DeepEP.Ep;

namespace DeepEP.Backends.Nccl;

// The fused MoE layer (docs/fused-moe.md): its low-latency dispatch and combine exist, the grouped GEMM kernels between
// them do not yet, so the call is refused (after EpBuffer's validation, before any transfer).
internal sealed partial class NcclBackend
{
    public FusedMoeResult FusedDeepMoe(FusedMoeRequest request) => throw FusedMoeRequest.GpuPathNotBuilt(Kind);
}
