namespace DeepEP.Cuda;

/// <summary>PLACEHOLDER until the CUDA layer lands: a CUDA event.</summary>
public sealed class CudaEvent
{
    /// <summary>Makes the stream wait on this event.</summary>
    public void StreamWait(CudaStream? stream) => throw new NotSupportedException();
}
