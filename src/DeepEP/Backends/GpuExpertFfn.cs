using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends;

// The local experts' FFN over the low-latency packed layout on the GPU, the twin of Host/HostExpertFfn: cast the
// dispatched BF16 rows (Int8 per row, Fp8 per 128 channels), [g | u] = W1[e] · x in fp32, h = bf16(silu(g) ⊙ u)
// re-cast the same way, y = bf16(W2[e] · h). Every kernel reads the per-expert counts on the device and touches only
// valid rows, so nothing waits on the host. Correctness first: four launches and fp32 [E_l, R·N, 2I] intermediates.
internal static class GpuExpertFfn
{
    // BF16 [E_l, R*N, H] outputs of the first packedRecvCount[e] rows of each expert (the other rows are not written),
    // queued on `stream`; the temporaries are freed stream-ordered on it.
    public static DeviceTensor Apply(DeviceTensor packedRecvX, DeviceTensor packedRecvCount, MoeExpertWeights weights, CudaStream stream)
    {
        QuantFormat format = weights.QuantMode switch
        {
            MoeQuantMode.None => QuantFormat.Bf16,
            MoeQuantMode.Int8 => QuantFormat.Int8,
            _ => QuantFormat.Fp8,
        };
        int device = packedRecvX.Device;
        long experts = packedRecvX.Size(0), rows = packedRecvX.Size(1);
        int hidden = weights.Hidden, intermediate = weights.IntermediateSize;

        using Activations x = Activations.Cast(format, packedRecvX, packedRecvCount, stream);
        using DeviceTensor gateUp = DeviceTensor.Empty(DType.Float32, [experts, rows, 2L * intermediate], device, stream);
        GroupedGemmRuntime.Launch(format, x.Values, x.Scales, weights.W1, weights.W1Scales, packedRecvCount, gateUp, stream);

        using Activations h = Activations.Allocate(format, experts, rows, intermediate, device, stream);
        SwigluQuantRuntime.Launch(format, gateUp, packedRecvCount, h.Values, h.Scales, stream);

        DeviceTensor y = DeviceTensor.Empty(DType.BFloat16, [experts, rows, hidden], device, stream);
        GroupedGemmRuntime.Launch(format, h.Values, h.Scales, weights.W2, weights.W2Scales, packedRecvCount, y, stream);
        return y;
    }

    // One GEMM's activations [E_l, rows, width] in the weights' format with their scales (null for BF16).
    private sealed record Activations(DeviceTensor Values, DeviceTensor? Scales, bool Owned) : IDisposable
    {
        public static Activations Allocate(QuantFormat format, long experts, long rows, long width, int device, CudaStream stream)
        {
            long[]? scalesShape = format.ActivationScalesShape(experts, rows, width);
            return new Activations(
                DeviceTensor.Empty(format.ElementType(), [experts, rows, width], device, stream),
                scalesShape is null ? null : DeviceTensor.Empty(DType.Float32, scalesShape, device, stream),
                Owned: true);
        }

        // The dispatched BF16 rows as the first GEMM takes them: borrowed for BF16, cast otherwise.
        public static Activations Cast(QuantFormat format, DeviceTensor rows, DeviceTensor counts, CudaStream stream)
        {
            if (format == QuantFormat.Bf16)
            {
                return new Activations(rows, null, Owned: false);
            }
            Activations cast = Allocate(format, rows.Size(0), rows.Size(1), rows.Size(2), rows.Device, stream);
            SwigluQuantRuntime.Launch(format, rows, counts, cast.Values, cast.Scales, stream);
            return cast;
        }

        public void Dispose()
        {
            if (Owned)
            {
                Values.Dispose();
                Scales?.Dispose();
            }
        }
    }
}
