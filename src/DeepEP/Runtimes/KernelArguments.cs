using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Checks shared by the runtimes' launchers, made before a kernel is queued.</summary>
internal static class KernelArguments
{
    /// <summary>Throws unless <paramref name="tensor"/> is a contiguous <paramref name="dtype"/> tensor of <paramref name="shape"/> on cuda:<paramref name="device"/>.</summary>
    public static void RequireContiguous(DeviceTensor tensor, int device, DType dtype, long[] shape, string name)
    {
        if (tensor.IsHost || tensor.Device != device || tensor.DType != dtype || !tensor.Shape.SequenceEqual(shape) || !tensor.IsContiguous)
        {
            throw new ArgumentException($"{name} must be a contiguous {dtype}[{string.Join(", ", shape)}] on cuda:{device}, not {tensor.Describe()}.", name);
        }
    }
}
