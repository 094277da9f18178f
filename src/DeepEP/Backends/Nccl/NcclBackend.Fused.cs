using DeepEP.Ep;

namespace DeepEP.Backends.Nccl;

// The fused MoE layer (docs/fused-moe.md): this backend's low-latency dispatch and combine around the GPU expert FFN.
internal sealed partial class NcclBackend
{
    public FusedMoeResult FusedDeepMoe(FusedMoeRequest request) => GpuFusedMoe.Run(this, request);
}
