using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

// The fused MoE layer on a GPU backend (docs/fused-moe.md), shared by the kernels and NCCL backends: the backend's own
// low-latency dispatch of the BF16 tokens, the local experts' FFN (GpuExpertFfn) on the caller's stream, the backend's
// own low-latency combine weighted by topkWeights, exactly the host reference's three stages. Both fuse modes run
// them back to back for now; the overlapped FusedDeepMoe pipeline is still to come.
internal static class GpuFusedMoe
{
    public static FusedMoeResult Run(IEpBackend backend, FusedMoeRequest request)
    {
        // BF16 on the wire, as on the host: each expert casts its rows itself, as the weights' mode says.
        LowLatencyDispatchResult dispatched = backend.LowLatencyDispatch(new LowLatencyDispatchRequest(
            request.X, request.TopkIdx, request.NumMaxDispatchTokensPerRank, request.NumExperts, null, null,
            UseFp8: false, RoundScale: false, UseUe8m0: false, request.Streams, ReturnRecvHook: false));
        using LowLatencyHandle handle = dispatched.Handle;
        using DeviceTensor packedRecvX = dispatched.PackedRecvX;
        // Without asyncFinish the dispatch's results are ready in stream order on the caller's stream.
        CudaStream stream = request.Streams.ComputeStream ?? CudaStream.ForDevice(backend.Device);
        using DeviceTensor expertOutputs = GpuExpertFfn.Apply(packedRecvX, dispatched.PackedRecvCount, request.Weights, stream);
        LowLatencyCombineResult combined = backend.LowLatencyCombine(new LowLatencyCombineRequest(
            expertOutputs, request.TopkIdx, request.TopkWeights, handle, UseLogfmt: false, ZeroCopy: false,
            request.Streams, ReturnRecvHook: false, request.Out, CombineWaitRecvCostStats: null));
        return new FusedMoeResult(combined.CombinedX, dispatched.PackedRecvCount);
    }
}
