using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::Fp8BlockCastParams</c> (<c>impls/fp8_block_cast.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Fp8BlockCastParams
{
    public nint W;
    public nint Q;
    public nint Scales;
    public int Rows;
    public int Columns;
}

/// <summary>
/// Host side of <c>impls/fp8_block_cast.cuh</c>: the 128 × 128 block FP8 cast of device BF16 weights, bit for bit
/// <see cref="Fp8Cast.BlockCast"/>; what <c>MoeExpertWeights.Quantize</c> runs for weights on a GPU.
/// </summary>
internal static class Fp8BlockCastRuntime
{
    /// <summary>Queues the cast of <paramref name="w"/> into <paramref name="q"/> and <paramref name="scales"/> on <paramref name="stream"/>.</summary>
    /// <param name="w">Contiguous device BF16 <c>[E, M, K]</c>, M and K multiples of 128.</param>
    /// <param name="q">Contiguous Float8E4M3 <c>[E, M, K]</c> on the same device.</param>
    /// <param name="scales">Contiguous Float32 <c>[E, M / 128, K / 128]</c>: each block's amax / 448.</param>
    /// <param name="stream">The stream; the device's library stream when null.</param>
    public static void Launch(DeviceTensor w, DeviceTensor q, DeviceTensor scales, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        long block = Fp8Cast.ChannelsPerScale;
        if (w.IsHost || w.DType != DType.BFloat16 || w.Rank != 3 || w.Size(1) % block != 0 || w.Size(2) % block != 0)
        {
            throw new ArgumentException($"w must be a device BFloat16 [E, M, K] tensor with M and K multiples of {block}, not {w.Describe()}.", nameof(w));
        }
        (long experts, long rows, long columns) = (w.Size(0), w.Size(1), w.Size(2));
        KernelArguments.RequireContiguous(w, w.Device, DType.BFloat16, [experts, rows, columns], nameof(w));
        KernelArguments.RequireContiguous(q, w.Device, DType.Float8E4M3, [experts, rows, columns], nameof(q));
        KernelArguments.RequireContiguous(scales, w.Device, DType.Float32, [experts, rows / block, columns / block], nameof(scales));
        if (experts == 0 || rows == 0 || columns == 0)
        {
            return;
        }
        if (experts > ushort.MaxValue || rows / block > ushort.MaxValue)
        {
            throw new ArgumentException($"w ({w.Describe()}) has more than {ushort.MaxValue} matrices or 128-row blocks, the most one launch covers; cast it in parts.", nameof(w));
        }
        CudaKernel kernel = KernelLoader.Get(w.Device, "deep_ep/impls/fp8_block_cast.cuh", "deep_ep::fp8_block_cast");
        var grid = new Dim3(checked((uint)(columns / block)), (uint)(rows / block), (uint)experts);
        kernel.Launch(new KernelLaunchConfig(grid, KernelLimits.Fp8BlockCastThreads, Stream: stream), new Fp8BlockCastParams
        {
            W = w.Pointer,
            Q = q.Pointer,
            Scales = scales.Pointer,
            Rows = checked((int)rows),
            Columns = checked((int)columns),
        });
    }
}
