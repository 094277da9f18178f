using DeepEP.Ep;

namespace DeepEP.Backends.Kernels;

// The fused MoE layer (docs/fused-moe.md): this backend's low-latency dispatch and combine around the GPU expert FFN.
internal sealed partial class KernelBackend
{
    public FusedMoeResult FusedDeepMoe(FusedMoeRequest request) => GpuFusedMoe.Run(this, request);
}
