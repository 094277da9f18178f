using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Two ranks (on two GPUs, or both on the only one) of which only rank 0 ever dispatches: what every backend must turn into an exception, not a hang.</summary>
internal static class LonelyRank
{
    /// <summary>Creates both buffers, then returns rank 0's dispatch of a small routing (buffers and tensors stay alive: rank 1 never disposes).</summary>
    public static Func<DispatchResult> DispatchOnRankZero(EpBackendKind backend, TimeSpan timeout)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(2);
        var buffers = new EpBuffer[2];
        Parallel.For(0, 2, r => buffers[r] = new EpBuffer(groups[r], 1L << 28,
            options: new EpBufferOptions { Backend = backend, Device = r % CudaDevice.Count, Timeout = timeout }));
        DeviceTensor topk = DeviceTensor.FromArray<long>([0, 1, 2, 3], [2, 2], device: 0);
        DeviceTensor x = DeviceTensor.Zeros(DType.BFloat16, [2, 128], device: 0);
        DispatchLayout layout = buffers[0].GetDispatchLayout(topk, 4);
        return () => buffers[0].Dispatch(x, layout);
    }
}
