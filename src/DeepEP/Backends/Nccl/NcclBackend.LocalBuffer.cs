using DeepEP.Tensors;

namespace DeepEP.Backends.Nccl;

// DeepEP's get_local_buffer_tensor on the NCCL backend: there is no buffer to view.
internal sealed partial class NcclBackend
{
    /// <summary>Refused: NCCL moves every call's data through staging tensors of that call and its own internal buffers.</summary>
    public DeviceTensor LocalBufferBytes(bool useRdmaBuffer) => throw new NotSupportedException(
        $"GetLocalBufferTensor is not supported on the NCCL backend: it holds no {(useRdmaBuffer ? "low-latency (RDMA)" : "normal-mode (NVL)")} buffer of its own "
        + "(each call stages its rows in tensors of that call, and NCCL keeps its buffers private). Use the kernels backend (low-latency buffer) or the host backend.");
}
