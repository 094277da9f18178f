using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::SwigluQuantParams</c> (<c>impls/swiglu_quant.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SwigluQuantParams
{
    public nint X;
    public nint Q;
    public nint Scales;
    public nint Counts;
    public int Rows;
    public int Width;
}

/// <summary>
/// Host side of <c>impls/swiglu_quant.cuh</c>: the fused MoE layer's activation casts over the packed layout, only the
/// first <c>counts[e]</c> rows of each expert (counts read on the device). From a BF16 <c>[E, rows, W]</c> source it
/// casts the dispatched rows for the first GEMM (Int8 per row, Fp8 per 128 channels); from the first GEMM's Float32
/// <c>[E, rows, 2W]</c> output it computes h = bf16(silu(gate) ⊙ up) and stores it in the format of the second GEMM.
/// The arithmetic is <c>Backends/Host/HostExpertFfn</c>'s with <see cref="Int8Cast.CastRow"/> or <see cref="Fp8Cast.CastRow"/>.
/// </summary>
internal static class SwigluQuantRuntime
{
    private const string Include = "deep_ep/impls/swiglu_quant.cuh";

    private static readonly KernelTemplate<(QuantFormat Format, bool Swiglu)> Names =
        new(a => $"deep_ep::swiglu_quant<{a.Format.CppName()}, {(a.Swiglu ? "true" : "false")}>");

    /// <summary>The C++ name expression of one specialisation.</summary>
    public static string NameExpression(QuantFormat format, bool swiglu) => Names.Expression((format, swiglu));

    /// <summary>Queues the cast on <paramref name="stream"/>.</summary>
    /// <param name="format">The format of <paramref name="q"/>; Bf16 only with a Float32 source (BF16 rows need no cast).</param>
    /// <param name="x">BFloat16 <c>[E, rows, W]</c> rows, or Float32 <c>[E, rows, 2W]</c> gate | up; contiguous, W a multiple of 128.</param>
    /// <param name="counts">Int32 <c>[E]</c>: valid rows of each expert.</param>
    /// <param name="q"><c>[E, rows, W]</c> in <paramref name="format"/>, contiguous.</param>
    /// <param name="scales">Int8 <c>[E, rows]</c>, Fp8 <c>[E, rows, W / 128]</c> Float32; null for Bf16.</param>
    /// <param name="stream">The stream.</param>
    public static void Launch(QuantFormat format, DeviceTensor x, DeviceTensor counts, DeviceTensor q, DeviceTensor? scales, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(stream);
        if (x.IsHost || x.Rank != 3 || x.DType is not (DType.BFloat16 or DType.Float32))
        {
            throw new ArgumentException($"x must be a device BFloat16 [E, rows, W] or Float32 [E, rows, 2W] tensor, not {x.Describe()}.", nameof(x));
        }
        bool swiglu = x.DType == DType.Float32;
        if (!swiglu && format == QuantFormat.Bf16)
        {
            throw new ArgumentException("BF16 rows need no cast: the Bf16 format takes a Float32 gate | up source.", nameof(format));
        }
        int device = x.Device;
        (long experts, long rows) = (x.Size(0), x.Size(1));
        long width = swiglu ? x.Size(2) / 2 : x.Size(2);
        if (width % Fp8Cast.ChannelsPerScale != 0 || (swiglu && x.Size(2) % 2 != 0))
        {
            throw new ArgumentException($"x ({x.Describe()}) must have a row width W that is a multiple of {Fp8Cast.ChannelsPerScale}.", nameof(x));
        }
        KernelArguments.RequireContiguous(x, device, x.DType, [experts, rows, x.Size(2)], nameof(x));
        KernelArguments.RequireContiguous(counts, device, DType.Int32, [experts], nameof(counts));
        KernelArguments.RequireContiguous(q, device, format.ElementType(), [experts, rows, width], nameof(q));
        KernelArguments.RequireScales(scales, format.ActivationScalesShape(experts, rows, width), device, nameof(scales));
        KernelArguments.RequireAligned(x, 16, nameof(x));
        KernelArguments.RequireAligned(q, 16, nameof(q));
        if (experts == 0 || rows == 0 || width == 0)
        {
            return;
        }
        CudaDevice cuda = CudaDevice.Get(device);
        CudaKernel kernel = KernelLoader.Get(device, Include, NameExpression(format, swiglu));
        // About four blocks per SM over all experts; each block strides over its expert's valid rows.
        long perExpert = Math.Clamp(cuda.MultiprocessorCount * 4L / experts, 1, rows);
        var grid = new Dim3(checked((uint)perExpert), checked((uint)experts));
        kernel.Launch(new KernelLaunchConfig(grid, KernelLimits.SwigluQuantThreads, Stream: stream), new SwigluQuantParams
        {
            X = x.Pointer,
            Q = q.Pointer,
            Scales = scales?.Pointer ?? 0,
            Counts = counts.Pointer,
            Rows = checked((int)rows),
            Width = checked((int)width),
        });
    }
}
