using DeepEP.Cuda;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// The building blocks of <see cref="EpBuffer.FusedDeepMoe"/>'s expert FFN (docs/fused-moe.md), public for callers
/// that run their own dispatch and combine: a masked grouped GEMM over the low-latency packed layout
/// <c>[E_local, R·N, ·]</c> and the SwiGLU + re-quantisation kernel. Both read the per-expert row counts on the GPU
/// and touch only the first <c>counts[e]</c> rows of each expert, so neither waits on the host and both can be
/// captured in a CUDA graph. The number format follows the tensors: BFloat16 (no scales), Int8 (one Float32 scale per
/// activation row and per weight output channel) or Float8E4M3 (one Float32 scale per 128 activation channels and per
/// 128 × 128 weight block), the layouts of <see cref="MoeExpertWeights"/>. Every argument is checked before anything
/// is queued (<see cref="ArgumentException"/> naming it, <see cref="ObjectDisposedException"/> for a freed tensor);
/// the counts' values are not (reading them would synchronise with the host): each should lie in 0 … rows, and the
/// kernels clamp a larger one to rows, so a bad count never reaches memory outside the tensors.
/// </summary>
public static class MoeKernels
{
    private const int Block = Fp8Cast.ChannelsPerScale;

    /// <summary>
    /// Queues <c>d[e, m, :] = b[e] · a[e, m, :]</c> (float32 accumulation, scales applied per 128-wide K block) for
    /// the first <c>counts[e]</c> rows of each expert e on <paramref name="stream"/>; rows past a count are neither
    /// read nor written.
    /// </summary>
    /// <param name="a">Activations <c>[E, rows, k]</c>, contiguous on a GPU: BFloat16, Int8 or Float8E4M3 (the format of the call); k a multiple of 128.</param>
    /// <param name="aScales">Float32 activation scales: Int8 <c>[E, rows]</c> (per row), Float8E4M3 <c>[E, rows, k/128]</c> (per 128 channels); null for BFloat16.</param>
    /// <param name="b">Weights <c>[E, n, k]</c> in the format of <paramref name="a"/>, contiguous (e.g. <see cref="MoeExpertWeights.W1"/>, n = 2I, or <see cref="MoeExpertWeights.W2"/>, n = H); n a multiple of 64.</param>
    /// <param name="bScales">Float32 weight scales: Int8 <c>[E, n]</c> (per output channel), Float8E4M3 <c>[E, n/128, k/128]</c> (per block); null for BFloat16.</param>
    /// <param name="counts">Int32 <c>[E]</c> on the same GPU: valid rows of each expert, 0 … rows (e.g. <see cref="LowLatencyDispatchResult.PackedRecvCount"/>).</param>
    /// <param name="d">Output <c>[E, rows, n]</c>, Float32 or BFloat16 (rounded once), contiguous.</param>
    /// <param name="stream">Stream to queue on; null for the calling thread's library stream of the tensors' GPU.</param>
    public static void GroupedGemm(DeviceTensor a, DeviceTensor? aScales, DeviceTensor b, DeviceTensor? bScales,
        DeviceTensor counts, DeviceTensor d, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(d);
        RequireAlive((a, nameof(a)), (aScales, nameof(aScales)), (b, nameof(b)), (bScales, nameof(bScales)), (counts, nameof(counts)), (d, nameof(d)));
        QuantFormat format = FormatOf(a, nameof(a), "activations [E, rows, k]");
        TensorChecks.Require(a, nameof(a), a.DType, a.Device, [TensorChecks.AnySize, TensorChecks.AnySize, TensorChecks.AnySize]);
        (long experts, long rows, long k) = (a.Size(0), a.Size(1), a.Size(2));
        TensorChecks.That(k > 0 && k % Block == 0, nameof(a), $"a ({a.Describe()}) must be [E, rows, k] with k a positive multiple of {Block} (the scale block).");
        TensorChecks.Require(b, nameof(b), a.DType, a.Device, [experts, TensorChecks.AnySize, k]);
        long n = b.Size(1);
        TensorChecks.That(n > 0 && n % KernelLimits.GemmTileCols == 0, nameof(b),
            $"b ({b.Describe()}) must be [E, n, k] with n a positive multiple of {KernelLimits.GemmTileCols} (the output tile width).");
        TensorChecks.That(format != QuantFormat.Fp8 || n % Block == 0, nameof(b),
            $"b ({b.Describe()}) holds Float8E4M3 weights with one scale per 128 × 128 block, so n must be a multiple of {Block}.");
        TensorChecks.That(experts <= ushort.MaxValue && n / KernelLimits.GemmTileCols <= ushort.MaxValue, nameof(b),
            $"b ({b.Describe()}) has more experts or output tiles than one launch covers ({ushort.MaxValue} each); split the call.");
        RequireScales(aScales, nameof(aScales), format.ActivationScalesShape(experts, rows, k), a);
        RequireScales(bScales, nameof(bScales), format.WeightScalesShape(experts, n, k), a);
        TensorChecks.Require(counts, nameof(counts), DType.Int32, a.Device, [experts]);
        TensorChecks.That(d.DType is DType.Float32 or DType.BFloat16, nameof(d), $"d must be Float32 or BFloat16 [E, rows, n]; got {d.Describe()}.");
        TensorChecks.Require(d, nameof(d), d.DType, a.Device, [experts, rows, n]);
        CudaStream queue = RequireGpu(stream, (a, nameof(a)), (b, nameof(b)), (d, nameof(d)));
        GroupedGemmRuntime.Launch(format, a, aScales, b, bScales, counts, d, queue);
    }

    /// <summary>
    /// Queues the activation cast of the first <c>counts[e]</c> rows of each expert on <paramref name="stream"/>. From
    /// BFloat16 <c>[E, rows, W]</c> rows (the dispatched tokens) it casts them into <paramref name="q"/>'s format (Int8
    /// or Float8E4M3; BF16 rows need no cast). From the first GEMM's Float32 <c>[E, rows, 2W]</c> output (gate columns
    /// 0 … W-1, up columns W … 2W-1) it computes <c>h = bf16(silu(gate) ⊙ up)</c> and stores it in <paramref name="q"/>'s
    /// format (BFloat16, Int8 or Float8E4M3). Int8 scales are max(amax, 1e-4)/127 per row, Float8E4M3 amax/448 per 128
    /// channels, as <see cref="Int8Cast.CastRow"/> and <see cref="Fp8Cast.CastRow"/> compute them.
    /// </summary>
    /// <param name="x">BFloat16 <c>[E, rows, W]</c> or Float32 <c>[E, rows, 2W]</c>, contiguous on a GPU; W a multiple of 128.</param>
    /// <param name="counts">Int32 <c>[E]</c> on the same GPU: valid rows of each expert, 0 … rows.</param>
    /// <param name="q">Output <c>[E, rows, W]</c>: BFloat16 (Float32 <paramref name="x"/> only), Int8 or Float8E4M3, contiguous.</param>
    /// <param name="scales">Float32 output scales: Int8 <c>[E, rows]</c>, Float8E4M3 <c>[E, rows, W/128]</c>; null for BFloat16.</param>
    /// <param name="stream">Stream to queue on; null for the calling thread's library stream of the tensors' GPU.</param>
    public static void SwigluQuant(DeviceTensor x, DeviceTensor counts, DeviceTensor q, DeviceTensor? scales, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(q);
        RequireAlive((x, nameof(x)), (counts, nameof(counts)), (q, nameof(q)), (scales, nameof(scales)));
        TensorChecks.That(x.DType is DType.BFloat16 or DType.Float32, nameof(x),
            $"x must be BFloat16 [E, rows, W] (rows to cast) or Float32 [E, rows, 2W] (gate | up); got {x.Describe()}.");
        TensorChecks.Require(x, nameof(x), x.DType, x.Device, [TensorChecks.AnySize, TensorChecks.AnySize, TensorChecks.AnySize]);
        bool swiglu = x.DType == DType.Float32;
        (long experts, long rows) = (x.Size(0), x.Size(1));
        long width = swiglu ? x.Size(2) / 2 : x.Size(2);
        TensorChecks.That(width > 0 && width % Block == 0 && (!swiglu || x.Size(2) % 2 == 0), nameof(x),
            $"x ({x.Describe()}) must have W a positive multiple of {Block} ({(swiglu ? "[E, rows, 2W]" : "[E, rows, W]")}).");
        QuantFormat format = FormatOf(q, nameof(q), "the output [E, rows, W]");
        TensorChecks.That(swiglu || format != QuantFormat.Bf16, nameof(q),
            $"BFloat16 rows need no cast: q ({q.Describe()}) must be Int8 or Float8E4M3 for a BFloat16 x (BFloat16 q takes a Float32 gate | up x).");
        TensorChecks.Require(counts, nameof(counts), DType.Int32, x.Device, [experts]);
        TensorChecks.Require(q, nameof(q), q.DType, x.Device, [experts, rows, width]);
        RequireScales(scales, nameof(scales), format.ActivationScalesShape(experts, rows, width), x);
        CudaStream queue = RequireGpu(stream, (x, nameof(x)), (q, nameof(q)));
        SwigluQuantRuntime.Launch(format, x, counts, q, scales, queue);
    }

    // Null scales are valid (BFloat16); the required tensors were checked for null by the caller.
    private static void RequireAlive(params ReadOnlySpan<(DeviceTensor? Tensor, string Name)> tensors)
    {
        foreach ((DeviceTensor? tensor, string name) in tensors)
        {
            if (tensor is not null)
            {
                TensorChecks.RequireAlive(tensor, name);
            }
        }
    }

    private static QuantFormat FormatOf(DeviceTensor tensor, string name, string what) => tensor.DType switch
    {
        DType.BFloat16 => QuantFormat.Bf16,
        DType.Int8 => QuantFormat.Int8,
        DType.Float8E4M3 => QuantFormat.Fp8,
        _ => throw new ArgumentException($"{name} ({tensor.Describe()}) must be BFloat16, Int8 or Float8E4M3 {what}; its dtype picks the number format.", name),
    };

    private static void RequireScales(DeviceTensor? scales, string name, long[]? shape, DeviceTensor like)
    {
        if (shape is null)
        {
            TensorChecks.That(scales is null, name, $"{name} must be null: {like.DType} operands carry no scales; got {scales?.Describe()}.");
            return;
        }
        TensorChecks.That(scales is not null, name, $"{name} is required for {like.DType} operands: Float32 [{string.Join(", ", shape)}].");
        TensorChecks.Require(scales, name, DType.Float32, like.Device, shape);
    }

    // Last, so every shape and dtype rule above can be tested with host tensors: the tensors on a GPU, 16-byte
    // aligned (the kernels move 16-byte words), and the stream on the same GPU.
    private static CudaStream RequireGpu(CudaStream? stream, params ReadOnlySpan<(DeviceTensor Tensor, string Name)> tensors)
    {
        foreach ((DeviceTensor tensor, string name) in tensors)
        {
            TensorChecks.That(!tensor.IsHost, name, $"{name} ({tensor.Describe()}) is in host memory; these kernels run on a GPU: copy it with To(device) first.");
            TensorChecks.That(tensor.Pointer % 16 == 0, name, $"{name} ({tensor.Describe()}) must start on a 16-byte boundary (a view at an odd offset is not); pass a fresh tensor.");
        }
        int device = tensors[0].Tensor.Device;
        TensorChecks.That(stream is null || stream.Device == device, nameof(stream),
            $"stream belongs to cuda:{stream?.Device} but the tensors are on cuda:{device}; pass a stream of cuda:{device} (or null for the library stream).");
        return stream ?? CudaStream.ForDevice(device);
    }
}
