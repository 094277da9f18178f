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

    /// <summary>Throws unless <paramref name="scales"/> is null exactly when <paramref name="shape"/> is, else a contiguous Float32 tensor of it.</summary>
    public static void RequireScales(DeviceTensor? scales, long[]? shape, int device, string name)
    {
        if (shape is null)
        {
            if (scales is not null)
            {
                throw new ArgumentException($"BF16 operands take no scales, but {name} is {scales.Describe()}.", name);
            }
            return;
        }
        if (scales is null)
        {
            throw new ArgumentException($"{name} is required: Float32 [{string.Join(", ", shape)}].", name);
        }
        RequireContiguous(scales, device, DType.Float32, shape, name);
    }

    /// <summary>Throws unless <paramref name="tensor"/> starts on a <paramref name="bytes"/>-byte boundary (kernels that move 16-byte words).</summary>
    public static void RequireAligned(DeviceTensor tensor, int bytes, string name)
    {
        if (tensor.Pointer % bytes != 0)
        {
            throw new ArgumentException($"{name} must start on a {bytes}-byte boundary, not {tensor.Describe()} at 0x{tensor.Pointer:X}.", name);
        }
    }
}
