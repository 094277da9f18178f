using DeepEP.Cuda;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// The weights of this rank's local experts for <see cref="EpBuffer.FusedDeepMoe"/>: each expert e computes
/// y = W2[e] · (silu(W1[e][0:I] · x) ⊙ (W1[e][I:2I] · x)). Layouts (docs/fused-moe.md):
/// <list type="bullet">
/// <item><see cref="W1"/> <c>[E_local, 2I, H]</c> row-major: rows <c>0..I-1</c> are the gate projection, rows <c>I..2I-1</c> the up projection
/// (the merged <c>gate_up_proj</c> / <c>w13</c> order).</item>
/// <item><see cref="W2"/> <c>[E_local, H, I]</c> row-major: the down projection.</item>
/// <item>Scales (dequantised weight = stored value · scale): Int8 <see cref="W1Scales"/> <c>[E_local, 2I]</c> and <see cref="W2Scales"/>
/// <c>[E_local, H]</c> Float32, one per output channel (row); Fp8 <see cref="W1Scales"/> <c>[E_local, 2I/128, H/128]</c> and
/// <see cref="W2Scales"/> <c>[E_local, H/128, I/128]</c> Float32, one per 128 × 128 block (row block, column block); none for BF16.</item>
/// </list>
/// H and I are multiples of 128; every tensor is contiguous and on one device. The object owns its tensors: <see cref="Dispose"/> frees them.
/// </summary>
public sealed class MoeExpertWeights : IDisposable
{
    private MoeExpertWeights(MoeQuantMode quantMode, DeviceTensor w1, DeviceTensor? w1Scales, DeviceTensor w2, DeviceTensor? w2Scales)
    {
        (NumLocalExperts, IntermediateSize, Hidden) = CheckLayout(quantMode, w1, w1Scales, w2, w2Scales);
        QuantMode = quantMode;
        W1 = w1;
        W1Scales = w1Scales;
        W2 = w2;
        W2Scales = w2Scales;
    }

    /// <summary>The number format of the weights and of the activations multiplied with them.</summary>
    public MoeQuantMode QuantMode { get; }

    /// <summary>Gate and up projections, <c>[E_local, 2I, H]</c> (BF16, Int8 or Float8E4M3): gate rows <c>0..I-1</c>, up rows <c>I..2I-1</c>.</summary>
    public DeviceTensor W1 { get; }

    /// <summary>Float32 scales of <see cref="W1"/>: Int8 <c>[E_local, 2I]</c> per output channel, Fp8 <c>[E_local, 2I/128, H/128]</c> per block; null for BF16.</summary>
    public DeviceTensor? W1Scales { get; }

    /// <summary>Down projection, <c>[E_local, H, I]</c> (BF16, Int8 or Float8E4M3).</summary>
    public DeviceTensor W2 { get; }

    /// <summary>Float32 scales of <see cref="W2"/>: Int8 <c>[E_local, H]</c> per output channel, Fp8 <c>[E_local, H/128, I/128]</c> per block; null for BF16.</summary>
    public DeviceTensor? W2Scales { get; }

    /// <summary>E_local: experts of this rank.</summary>
    public int NumLocalExperts { get; }

    /// <summary>H, the model's hidden size (a multiple of 128).</summary>
    public int Hidden { get; }

    /// <summary>I, each expert's intermediate size (a multiple of 128).</summary>
    public int IntermediateSize { get; }

    /// <summary>Device of the tensors (<see cref="DeviceTensor.HostDevice"/> for host memory).</summary>
    public int Device => W1.Device;

    /// <summary>BF16 weights: <paramref name="w1"/> <c>[E_local, 2I, H]</c> and <paramref name="w2"/> <c>[E_local, H, I]</c> BFloat16 (ownership passes to the result).</summary>
    public static MoeExpertWeights Bf16(DeviceTensor w1, DeviceTensor w2) => new(MoeQuantMode.None, w1, null, w2, null);

    /// <summary>W8A8 weights (ownership passes to the result).</summary>
    /// <param name="w1"><c>[E_local, 2I, H]</c> Int8.</param>
    /// <param name="w1Scales"><c>[E_local, 2I]</c> Float32, one per output channel.</param>
    /// <param name="w2"><c>[E_local, H, I]</c> Int8.</param>
    /// <param name="w2Scales"><c>[E_local, H]</c> Float32, one per output channel.</param>
    public static MoeExpertWeights Int8(DeviceTensor w1, DeviceTensor w1Scales, DeviceTensor w2, DeviceTensor w2Scales) =>
        new(MoeQuantMode.Int8, w1, w1Scales, w2, w2Scales);

    /// <summary>FP8 E4M3 weights with 128 × 128 block scales (ownership passes to the result).</summary>
    /// <param name="w1"><c>[E_local, 2I, H]</c> Float8E4M3.</param>
    /// <param name="w1Scales"><c>[E_local, 2I/128, H/128]</c> Float32: scale of rows 128·i.., columns 128·j.. at [e, i, j].</param>
    /// <param name="w2"><c>[E_local, H, I]</c> Float8E4M3.</param>
    /// <param name="w2Scales"><c>[E_local, H/128, I/128]</c> Float32.</param>
    public static MoeExpertWeights Fp8(DeviceTensor w1, DeviceTensor w1Scales, DeviceTensor w2, DeviceTensor w2Scales) =>
        new(MoeQuantMode.Fp8, w1, w1Scales, w2, w2Scales);

    /// <summary>
    /// Quantises BF16 weights into <paramref name="mode"/>'s format (<see cref="Int8Cast.PerRowCast"/>,
    /// <see cref="Fp8Cast.BlockCast"/>) where they live: on the host, or on their GPU with kernels that give the same
    /// bits (queued on <paramref name="stream"/>); with <see cref="MoeQuantMode.None"/> the result holds copies. The
    /// result is on the inputs' device; the inputs stay the caller's.
    /// </summary>
    /// <param name="w1"><c>[E_local, 2I, H]</c> BFloat16, contiguous.</param>
    /// <param name="w2"><c>[E_local, H, I]</c> BFloat16, contiguous, on the device of <paramref name="w1"/>.</param>
    /// <param name="mode">The target format.</param>
    /// <param name="stream">GPU weights: the stream the casts and the result's allocations are queued on, of their device; null is the calling thread's library stream. Host weights take none.</param>
    public static MoeExpertWeights Quantize(DeviceTensor w1, DeviceTensor w2, MoeQuantMode mode, CudaStream? stream = null)
    {
        CheckLayout(MoeQuantMode.None, w1, null, w2, null);
        TensorChecks.That(stream is null || stream.Device == w1.Device, nameof(stream), w1.IsHost
            ? $"the weights are in host memory, where Quantize runs on the CPU and takes no CUDA stream; got a stream of cuda:{stream?.Device}. Pass stream: null."
            : $"stream belongs to cuda:{stream?.Device} but the weights are on cuda:{w1.Device}; pass a stream of cuda:{w1.Device} (or null for the library stream).");
        switch (mode)
        {
            case MoeQuantMode.None:
                return Bf16(w1.To(w1.Device, stream), w2.To(w1.Device, stream));
            case MoeQuantMode.Int8 when w1.IsHost:
                Int8Tensor q1 = Int8Cast.PerRowCast(w1), q2 = Int8Cast.PerRowCast(w2);
                return Int8(q1.Data, q1.Scales, q2.Data, q2.Scales);
            case MoeQuantMode.Fp8 when w1.IsHost:
                Fp8Tensor f1 = Fp8Cast.BlockCast(w1), f2 = Fp8Cast.BlockCast(w2);
                return Fp8(f1.Data, f1.Scales, f2.Data, f2.Scales);
            case MoeQuantMode.Int8 or MoeQuantMode.Fp8:
                (DeviceTensor d1, DeviceTensor s1) = CastOnDevice(w1, mode, stream);
                (DeviceTensor d2, DeviceTensor s2) = CastOnDevice(w2, mode, stream);
                return new MoeExpertWeights(mode, d1, s1, d2, s2);
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Valid quantisation modes: None, Int8, Fp8.");
        }
    }

    // One weight tensor [E, O, K] cast on its GPU: Int8 per row (the per-token cast kernel over E·O rows), Fp8 per
    // 128 × 128 block; the same bits as the host casts.
    private static (DeviceTensor Data, DeviceTensor Scales) CastOnDevice(DeviceTensor w, MoeQuantMode mode, CudaStream? stream)
    {
        (long experts, long rows, long columns) = (w.Size(0), w.Size(1), w.Size(2));
        int device = w.Device;
        if (mode == MoeQuantMode.Int8)
        {
            DeviceTensor codes = DeviceTensor.Empty(DType.Int8, w.Shape, device, stream);
            DeviceTensor rowScales = DeviceTensor.Empty(DType.Float32, [experts, rows], device, stream);
            using DeviceTensor source = w.View(experts * rows, columns), target = codes.View(experts * rows, columns), scales = rowScales.View(experts * rows, 1);
            Int8CastRuntime.Launch(source, target, scales, stream);
            return (codes, rowScales);
        }
        const long Block = Fp8Cast.ChannelsPerScale;
        DeviceTensor fp8 = DeviceTensor.Empty(DType.Float8E4M3, w.Shape, device, stream);
        DeviceTensor blockScales = DeviceTensor.Empty(DType.Float32, [experts, rows / Block, columns / Block], device, stream);
        Fp8BlockCastRuntime.Launch(w, fp8, blockScales, stream);
        return (fp8, blockScales);
    }

    /// <summary>
    /// A copy of these weights on <paramref name="device"/> (<see cref="DeviceTensor.HostDevice"/> for host memory), in
    /// the same format and layouts; e.g. <see cref="Quantize"/>'s host result moved to the GPU the buffer uses. The
    /// copy owns its tensors; these stay the caller's.
    /// </summary>
    /// <param name="device">The target device.</param>
    public MoeExpertWeights To(int device)
    {
        if (W1.IsDisposed || W2.IsDisposed)
        {
            throw new ObjectDisposedException(nameof(MoeExpertWeights), "These weights were disposed; keep them alive until the copy is made.");
        }
        DeviceTensor w1 = W1.To(device), w2 = W2.To(device);
        DeviceTensor? s1 = W1Scales?.To(device), s2 = W2Scales?.To(device);
        return new MoeExpertWeights(QuantMode, w1, s1, w2, s2);
    }

    /// <summary>Frees the weight and scale tensors.</summary>
    public void Dispose()
    {
        W1.Dispose();
        W1Scales?.Dispose();
        W2.Dispose();
        W2Scales?.Dispose();
    }

    // Every rule of the class summary, each failure naming the tensor; returns (E_local, I, H).
    private static (int NumLocalExperts, int IntermediateSize, int Hidden) CheckLayout(
        MoeQuantMode quantMode, DeviceTensor w1, DeviceTensor? w1Scales, DeviceTensor w2, DeviceTensor? w2Scales)
    {
        ArgumentNullException.ThrowIfNull(w1);
        ArgumentNullException.ThrowIfNull(w2);
        DType dtype = quantMode switch
        {
            MoeQuantMode.None => DType.BFloat16,
            MoeQuantMode.Int8 => DType.Int8,
            MoeQuantMode.Fp8 => DType.Float8E4M3,
            _ => throw new ArgumentOutOfRangeException(nameof(quantMode), quantMode, "Valid quantisation modes: None, Int8, Fp8."),
        };
        const int Block = Fp8Cast.ChannelsPerScale;
        TensorChecks.Require(w1, nameof(w1), dtype, w1.Device, [TensorChecks.AnySize, TensorChecks.AnySize, TensorChecks.AnySize]);
        TensorChecks.That(w1.Size(0) > 0, nameof(w1), $"w1 ({w1.Describe()}) must hold at least one expert.");
        TensorChecks.That(w1.Size(1) > 0 && w1.Size(1) % (2 * Block) == 0, nameof(w1),
            $"w1 ({w1.Describe()}) must be [E_local, 2I, H] with I a positive multiple of {Block}: gate rows 0..I-1, up rows I..2I-1.");
        TensorChecks.That(w1.Size(2) > 0 && w1.Size(2) % Block == 0, nameof(w1),
            $"w1 ({w1.Describe()}) must be [E_local, 2I, H] with H a positive multiple of {Block}.");
        int experts = checked((int)w1.Size(0));
        int intermediate = checked((int)(w1.Size(1) / 2));
        int hidden = checked((int)w1.Size(2));
        TensorChecks.Require(w2, nameof(w2), dtype, w1.Device, [experts, hidden, intermediate]);
        switch (quantMode)
        {
            case MoeQuantMode.Int8:
                TensorChecks.Require(w1Scales, nameof(w1Scales), DType.Float32, w1.Device, [experts, 2L * intermediate]);
                TensorChecks.Require(w2Scales, nameof(w2Scales), DType.Float32, w1.Device, [experts, hidden]);
                break;
            case MoeQuantMode.Fp8:
                TensorChecks.Require(w1Scales, nameof(w1Scales), DType.Float32, w1.Device, [experts, 2L * intermediate / Block, hidden / Block]);
                TensorChecks.Require(w2Scales, nameof(w2Scales), DType.Float32, w1.Device, [experts, hidden / Block, intermediate / Block]);
                break;
        }
        return (experts, intermediate, hidden);
    }
}
