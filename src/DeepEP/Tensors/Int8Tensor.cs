namespace DeepEP.Tensors;

/// <summary>An Int8 tensor with one Float32 scale per row of its last dimension (W8A8 weights or activations).</summary>
/// <param name="Data"><c>[..., K]</c> <see cref="DType.Int8"/>, values in [-127, 127].</param>
/// <param name="Scales"><c>[...]</c> Float32 dequantisation factors: element ≈ q · scale of its row.</param>
public sealed record Int8Tensor(DeviceTensor Data, DeviceTensor Scales) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Data.Dispose();
        Scales.Dispose();
    }
}
