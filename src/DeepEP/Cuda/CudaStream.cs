namespace DeepEP.Cuda;

/// <summary>PLACEHOLDER until the CUDA layer lands: a CUDA stream.</summary>
public sealed class CudaStream
{
}
