using DeepEP.Tensors;

namespace DeepEP.Backends.Kernels;

// DeepEP's get_local_buffer_tensor on the kernels backend: a view of this rank's own symmetric allocation, no kernel.
internal sealed partial class KernelBackend
{
    /// <summary>
    /// The low-latency buffer: this rank's copy of the symmetric allocation the low-latency kernels use (peers write
    /// into it during low-latency calls, as into DeepEP's RDMA buffer). The normal-mode buffer is refused: this backend
    /// does not hold <c>numNvlBytes</c> of its own (ranks as threads: only the count/barrier header, because tokens go
    /// straight into the peers' outputs; one process per GPU: the header plus the receive arena, separate allocations
    /// whose slots the calls' outputs view).
    /// </summary>
    public DeviceTensor LocalBufferBytes(bool useRdmaBuffer)
    {
        if (!useRdmaBuffer)
        {
            throw new NotSupportedException(
                "GetLocalBufferTensor of the normal-mode (NVL) buffer is not supported on the kernels backend: it does not allocate numNvlBytes "
                + "as one buffer (tokens are written straight into the peers' outputs; only a count/barrier header, and across processes a receive "
                + "arena whose slots the outputs view, exist). Use useRdmaBuffer: true on a low-latency buffer, or the host backend.");
        }
        return (_lowLatency ?? throw new InvalidOperationException(
            "This kernels-backend buffer has no low-latency buffer: create the EpBuffer with lowLatencyMode: true and numRdmaBytes > 0.")).Buffer.LocalBytes();
    }
}
