namespace DeepEP.Tensors;

/// <summary>An FP8 E4M3 tensor with its per-128-channel scales (DeepEP's <c>(x_fp8, x_scales)</c> tuple).</summary>
/// <param name="Data"><c>[T, H]</c> <see cref="DType.Float8E4M3"/>.</param>
/// <param name="Scales"><c>[T, H/128]</c> Float32 dequantisation factors, or with UE8M0 <c>[T, H/512]</c> Int32 packing four exponent bytes.</param>
public sealed record Fp8Tensor(DeviceTensor Data, DeviceTensor Scales) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Data.Dispose();
        Scales.Dispose();
    }
}
