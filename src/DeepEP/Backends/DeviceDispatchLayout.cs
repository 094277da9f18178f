using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>Spec §1 on the GPU, shared by the GPU backends: the <c>get_dispatch_layout</c> kernel on the communication stream.</summary>
internal static class DeviceDispatchLayout
{
    /// <summary>The layout of <paramref name="topkIdx"/> over <paramref name="numRanks"/> ranks; <c>num_tokens_per_rdma_rank</c> is not computed (null).</summary>
    public static DispatchLayout Compute(CommStreamOrder order, DeviceTensor topkIdx, int numExperts, int numRanks, StreamOptions streams)
    {
        int device = order.Comm.Device;
        CudaStream compute = order.ComputeStream(streams);
        int tokens = checked((int)topkIdx.Size(0));
        CudaStream outputs = order.OutputStream(streams, compute);
        DeviceTensor perRank = DeviceTensor.Empty(DType.Int32, [numRanks], device, outputs);
        DeviceTensor perExpert = DeviceTensor.Empty(DType.Int32, [numExperts], device, outputs);
        DeviceTensor inRank = DeviceTensor.Empty(DType.Bool, [tokens, numRanks], device, outputs);
        order.Begin(streams, compute);
        perRank.FillBytes(0, order.Comm);
        perExpert.FillBytes(0, order.Comm);
        DispatchLayoutRuntime.LaunchLayout(device, order.Comm, new DispatchLayoutParams
        {
            TopkIdx = topkIdx.Pointer,
            NumTokensPerRank = perRank.Pointer,
            NumTokensPerExpert = perExpert.Pointer,
            IsTokenInRank = inRank.Pointer,
            NumTokens = tokens,
            NumTopk = checked((int)topkIdx.Size(1)),
            NumExperts = numExperts,
            NumRanks = numRanks,
        });
        return new DispatchLayout(perRank, null, perExpert, inRank, order.Finish(streams, compute, [topkIdx, perRank, perExpert, inRank]));
    }
}
