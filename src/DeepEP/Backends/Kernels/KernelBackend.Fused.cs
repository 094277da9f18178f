using DeepEP.Ep;

namespace DeepEP.Backends.Kernels;

// The fused MoE layer (docs/fused-moe.md): the masked grouped GEMM and SwiGLU + re-quantisation kernels it needs are
// not written yet, so the call is refused (after EpBuffer's validation, before anything is launched).
internal sealed partial class KernelBackend
{
    public FusedMoeResult FusedDeepMoe(FusedMoeRequest request) => throw FusedMoeRequest.GpuPathNotBuilt(Kind);
}
