using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// The fused MoE layer on the host (docs/fused-moe.md): low-latency dispatch of the BF16 tokens (spec §5.3), the local
// experts' FFN on the packed rows, low-latency combine of the expert outputs weighted by topkWeights (spec §5.4). Both
// fuse modes run the three stages back to back: on the host there is nothing to overlap, and the result is the same.
internal static class HostFusedMoe
{
    public static FusedMoeResult Run(HostExchange group, FusedMoeRequest request, LowLatencyCombineBuffers buffers, bool[] maskedRanks)
    {
        // BF16 on the wire: each expert quantises its rows itself, exactly as the weights' mode says.
        LowLatencyDispatchResult dispatched = HostLowLatencyDispatch.Dispatch(group, new LowLatencyDispatchRequest(
            request.X, request.TopkIdx, request.NumMaxDispatchTokensPerRank, request.NumExperts, null, null,
            UseFp8: false, RoundScale: false, UseUe8m0: false, request.Streams, ReturnRecvHook: false), buffers, maskedRanks);
        using LowLatencyHandle handle = dispatched.Handle;
        using DeviceTensor packedRecvX = dispatched.PackedRecvX;
        using DeviceTensor expertOutputs = HostExpertFfn.Apply(packedRecvX, dispatched.PackedRecvCount, request.Weights);
        LowLatencyCombineResult combined = HostLowLatencyCombine.Combine(group, new LowLatencyCombineRequest(
            expertOutputs, request.TopkIdx, request.TopkWeights, handle, UseLogfmt: false, ZeroCopy: false,
            request.Streams, ReturnRecvHook: false, request.Out, CombineWaitRecvCostStats: null), buffers, maskedRanks);
        return new FusedMoeResult(combined.CombinedX, dispatched.PackedRecvCount);
    }
}
