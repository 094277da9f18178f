using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>Spec §1 on the GPU, shared by the GPU backends: the <c>get_dispatch_layout</c> kernel on the communication stream, or on the caller's when the caller asks for no event.</summary>
internal static class DeviceDispatchLayout
{
    /// <summary>The layout of <paramref name="topkIdx"/> over <paramref name="numRanks"/> ranks; <c>num_tokens_per_rdma_rank</c> is not computed (null).</summary>
    public static DispatchLayout Compute(CommStreamOrder order, DeviceTensor topkIdx, int numExperts, int numRanks, StreamOptions streams)
    {
        int device = order.Comm.Device;
        CudaStream compute = order.ComputeStream(streams);
        // With no event asked for or waited on and nothing allocated on the communication stream, the caller observes
        // the same as a hop to that stream and back, minus two event round trips: run on the caller's stream.
        bool direct = !streams.AsyncFinish && !streams.AllocateOnCommStream && streams.PreviousEvent is null;
        CudaStream run = direct ? compute : order.Comm;
        int tokens = checked((int)topkIdx.Size(0));
        // One allocation, the two counters first so that one fill zeroes both where the kernel needs them zeroed.
        DeviceTensor[] outputs = DeviceTensor.EmptyGroup(device, order.OutputStream(streams, compute),
            (DType.Int32, [numRanks], null), (DType.Int32, [numExperts], null), (DType.Bool, [tokens, numRanks], null));
        (DeviceTensor perRank, DeviceTensor perExpert, DeviceTensor inRank) = (outputs[0], outputs[1], outputs[2]);
        if (!direct)
        {
            order.Begin(streams, compute);
        }
        var p = new DispatchLayoutParams
        {
            TopkIdx = topkIdx.Pointer,
            NumTokensPerRank = perRank.Pointer,
            NumTokensPerExpert = perExpert.Pointer,
            IsTokenInRank = inRank.Pointer,
            NumTokens = tokens,
            NumTopk = checked((int)topkIdx.Size(1)),
            NumExperts = numExperts,
            NumRanks = numRanks,
        };
        if (!DispatchLayoutRuntime.CountsInOneBlock(p))
        {
            DeviceMemory.Fill32(device, perRank.Pointer, 0, checked((int)((perExpert.Pointer - perRank.Pointer) / sizeof(int)) + numExperts), run);
        }
        DispatchLayoutRuntime.LaunchLayout(device, run, p);
        EventOverlap done = direct ? EventOverlap.None : order.Finish(streams, compute, [topkIdx, perRank, perExpert, inRank]);
        return new DispatchLayout(perRank, null, perExpert, inRank, done);
    }
}
