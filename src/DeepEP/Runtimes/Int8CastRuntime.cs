using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::Int8CastParams</c> (<c>impls/int8_cast.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Int8CastParams
{
    public nint X;
    public nint Q;
    public nint Scales;
    public long XRowStride;
    public int NumTokens;
    public int Hidden;
}

/// <summary>
/// Host side of <c>impls/int8_cast.cuh</c>: the per-token INT8 cast of a device BF16 <c>[T, H]</c> tensor, bit for bit
/// <see cref="Int8Cast.PerTokenCast"/>; what normal dispatch runs with <c>useInt8Quant</c> on the GPU backends.
/// </summary>
internal static class Int8CastRuntime
{
    /// <summary>Casts <paramref name="x"/> into new tensors allocated on <paramref name="stream"/>: Int8 <c>[T, H]</c> and Float32 <c>[T, 1]</c> scales.</summary>
    /// <param name="x">BF16 <c>[T, H]</c> on a device, unit stride in H.</param>
    /// <param name="stream">The stream; the device's library stream when null.</param>
    public static Int8Tensor Cast(DeviceTensor x, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var data = DeviceTensor.Empty(DType.Int8, x.Shape, x.Device, stream);
        var scales = DeviceTensor.Empty(DType.Float32, [x.Size(0), 1], x.Device, stream);
        Launch(x, data, scales, stream);
        return new Int8Tensor(data, scales);
    }

    /// <summary>Casts <paramref name="x"/> into existing tensors of the shapes <see cref="Cast"/> returns, queued on <paramref name="stream"/>.</summary>
    public static void Launch(DeviceTensor x, DeviceTensor data, DeviceTensor scales, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(scales);
        if (x.IsHost || x.DType != DType.BFloat16 || x.Rank != 2 || (x.Size(1) > 1 && x.Stride(1) != 1))
        {
            throw new ArgumentException($"x must be a device BFloat16 [T, H] tensor with unit channel stride, not {x.Describe()}.", nameof(x));
        }
        int tokens = checked((int)x.Size(0)), hidden = checked((int)x.Size(1));
        KernelArguments.RequireContiguous(data, x.Device, DType.Int8, [tokens, hidden], nameof(data));
        KernelArguments.RequireContiguous(scales, x.Device, DType.Float32, [tokens, 1], nameof(scales));
        if (tokens == 0)
        {
            return;
        }
        CudaDevice device = CudaDevice.Get(x.Device);
        CudaKernel kernel = KernelLoader.Get(device.Ordinal, "deep_ep/impls/int8_cast.cuh", "deep_ep::int8_cast");
        kernel.Launch(new KernelLaunchConfig(Math.Min(tokens, device.MultiprocessorCount * 8), KernelLimits.Int8CastThreads, Stream: stream), new Int8CastParams
        {
            X = x.Pointer,
            Q = data.Pointer,
            Scales = scales.Pointer,
            XRowStride = x.Stride(0),
            NumTokens = tokens,
            Hidden = hidden,
        });
    }
}
