using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::GroupedGemmParams</c> (<c>impls/grouped_gemm.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GroupedGemmParams
{
    public nint A;
    public nint AScales;
    public nint B;
    public nint BScales;
    public nint Counts;
    public nint D;
    public int Rows;
    public int N;
    public int K;
    public int Reserved;
}

/// <summary>
/// Host side of <c>impls/grouped_gemm.cuh</c>, the fused MoE layer's masked grouped GEMM over the low-latency packed
/// layout: <c>d[e, m, :] = b[e] · a[e, m, :]</c> for the first <c>counts[e]</c> rows of each expert, the counts read on
/// the device (no host synchronisation, so it can be captured in a CUDA graph). Rows past a count are left untouched.
/// Scales are applied as <c>Backends/Host/HostLinear</c> applies them.
/// </summary>
internal static class GroupedGemmRuntime
{
    private const string Include = "deep_ep/impls/grouped_gemm.cuh";

    private static readonly KernelTemplate<(QuantFormat Format, DType Output)> Names =
        new(a => $"deep_ep::grouped_gemm<{a.Format.CppName()}, {(a.Output == DType.Float32 ? "float" : "__nv_bfloat16")}>");

    /// <summary>The C++ name expression of one specialisation (<paramref name="output"/> Float32 or BFloat16).</summary>
    public static string NameExpression(QuantFormat format, DType output) => Names.Expression((format, output));

    /// <summary>Queues the GEMM on <paramref name="stream"/>.</summary>
    /// <param name="format">The number format of <paramref name="a"/> and <paramref name="b"/>.</param>
    /// <param name="a">Activations <c>[E, rows, k]</c> in <paramref name="format"/>, contiguous; k a multiple of 128.</param>
    /// <param name="aScales">Int8 <c>[E, rows]</c>, Fp8 <c>[E, rows, k / 128]</c> Float32; null for Bf16.</param>
    /// <param name="b">Weights <c>[E, n, k]</c> in <paramref name="format"/>, contiguous; n a multiple of 64.</param>
    /// <param name="bScales">Int8 <c>[E, n]</c>, Fp8 <c>[E, n / 128, k / 128]</c> Float32; null for Bf16.</param>
    /// <param name="counts">Int32 <c>[E]</c>: valid rows of each expert (0 … rows).</param>
    /// <param name="d">Float32 or BFloat16 <c>[E, rows, n]</c>, contiguous.</param>
    /// <param name="stream">The stream.</param>
    /// <param name="architecture">Null: the device's architecture (wgmma on Hopper); <c>sm_90</c> on Hopper: the mma.sync path other GPUs take.</param>
    public static void Launch(QuantFormat format, DeviceTensor a, DeviceTensor? aScales, DeviceTensor b, DeviceTensor? bScales,
        DeviceTensor counts, DeviceTensor d, CudaStream stream, string? architecture = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(d);
        ArgumentNullException.ThrowIfNull(stream);
        if (a.IsHost || a.Rank != 3)
        {
            throw new ArgumentException($"a must be a device [E, rows, k] tensor, not {a.Describe()}.", nameof(a));
        }
        if (b.Rank != 3)
        {
            throw new ArgumentException($"b must be an [E, n, k] tensor, not {b.Describe()}.", nameof(b));
        }
        int device = a.Device;
        (long experts, long rows, long k) = (a.Size(0), a.Size(1), a.Size(2));
        long n = b.Size(1);
        long nMultiple = format == QuantFormat.Fp8 ? Fp8Cast.ChannelsPerScale : KernelLimits.GemmTileCols;
        if (k % Fp8Cast.ChannelsPerScale != 0 || n % nMultiple != 0)
        {
            throw new ArgumentException($"k ({k}) must be a multiple of {Fp8Cast.ChannelsPerScale} and n ({n}) of {nMultiple} (Fp8: whole 128 × 128 scale blocks).", nameof(b));
        }
        if (experts > ushort.MaxValue || n / KernelLimits.GemmTileCols > ushort.MaxValue)
        {
            throw new ArgumentException($"b ({b.Describe()}) has more experts or output tiles than one launch covers ({ushort.MaxValue} each).", nameof(b));
        }
        KernelArguments.RequireContiguous(a, device, format.ElementType(), [experts, rows, k], nameof(a));
        KernelArguments.RequireContiguous(b, device, format.ElementType(), [experts, n, k], nameof(b));
        KernelArguments.RequireScales(aScales, format.ActivationScalesShape(experts, rows, k), device, nameof(aScales));
        KernelArguments.RequireScales(bScales, format.WeightScalesShape(experts, n, k), device, nameof(bScales));
        KernelArguments.RequireContiguous(counts, device, DType.Int32, [experts], nameof(counts));
        if (d.DType is not (DType.Float32 or DType.BFloat16))
        {
            throw new ArgumentException($"d must be Float32 or BFloat16, not {d.Describe()}.", nameof(d));
        }
        KernelArguments.RequireContiguous(d, device, d.DType, [experts, rows, n], nameof(d));
        // Tiles move 16-byte words; k and n keep every row on that grid once the start is.
        KernelArguments.RequireAligned(a, 16, nameof(a));
        KernelArguments.RequireAligned(b, 16, nameof(b));
        KernelArguments.RequireAligned(d, 16, nameof(d));
        if (experts == 0 || rows == 0 || n == 0)
        {
            return;
        }
        CudaKernel kernel = KernelLoader.Get(device, Include, NameExpression(format, d.DType), architecture);
        var grid = new Dim3(
            checked((uint)((rows + KernelLimits.GemmTileRows - 1) / KernelLimits.GemmTileRows)),
            checked((uint)(n / KernelLimits.GemmTileCols)),
            checked((uint)experts));
        kernel.Launch(new KernelLaunchConfig(grid, KernelLimits.GemmThreads, KernelLimits.GemmSharedBytes, stream), new GroupedGemmParams
        {
            A = a.Pointer,
            AScales = aScales?.Pointer ?? 0,
            B = b.Pointer,
            BScales = bScales?.Pointer ?? 0,
            Counts = counts.Pointer,
            D = d.Pointer,
            Rows = checked((int)rows),
            N = checked((int)n),
            K = checked((int)k),
        });
    }
}
