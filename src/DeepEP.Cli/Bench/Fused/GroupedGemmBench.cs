using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>
/// The expert FFN's GEMMs alone on one GPU, without dispatch or combine, at the shapes of
/// <c>scripts/fused_moe_torch.py</c>: every expert holds <c>rows</c> valid rows (32, 128 and 512 rows per expert with
/// 32, 32 and 8 experts), and one call is what <c>GpuExpertFfn</c> does after the activation cast:
/// <see cref="MoeKernels.GroupedGemm"/> (W1), <see cref="MoeKernels.SwigluQuant"/> (SwiGLU and re-quantisation) and
/// <see cref="MoeKernels.GroupedGemm"/> (W2). The activations are cast once before timing, as the PyTorch baseline
/// quantises its input once. Timing only: the kernels' arithmetic is checked by the GPU tests and the layer rows.
/// </summary>
internal static class GroupedGemmBench
{
    /// <summary>(rows per expert, experts) of each shape.</summary>
    public static readonly (int Rows, int Experts)[] Shapes = [(32, 32), (128, 32), (512, 8)];

    public static IReadOnlyList<FusedResult> Run(BenchSettings s, int device, Action<string>? progress)
    {
        using ProcessGroup group = ProcessGroup.CreateInProcess(1)[0];
        int maxExperts = Shapes.Max(shape => shape.Experts);
        var results = new List<FusedResult>();
        foreach (MoeQuantMode quant in s.FusedQuants)
        {
            progress?.Invoke($"grouped GEMMs, {FusedReport.QuantName(quant)} weights");
            using MoeExpertWeights all = FusedWeights.Create(s.Seed + 7, 0, maxExperts, s.Hidden, s.Intermediate, quant, device);
            foreach ((int rows, int experts) in Shapes)
            {
                using Operands o = Operands.Create(all, experts, rows, quant, s.Seed, device);
                CudaStream stream = CudaStream.ForDevice(device);
                Timing timing = Timing.Measure(group, device, s.Warmups, s.Iterations, () =>
                {
                    MoeKernels.GroupedGemm(o.A, o.AScales, o.W1, o.W1Scales, o.Counts, o.GateUp, stream);
                    MoeKernels.SwigluQuant(o.GateUp, o.Counts, o.H, o.HScales, stream);
                    MoeKernels.GroupedGemm(o.H, o.HScales, o.W2, o.W2Scales, o.Counts, o.Y, stream);
                });
                results.Add(new FusedResult("grouped GEMMs", 0, rows, s.Hidden, s.Intermediate, experts, 0, null, quant, timing,
                    (double)rows * experts, FusedWeights.BytesRead(all, experts), true, "timing only"));
            }
        }
        return results;
    }

    // The first `experts` experts' weights (views) and the activations and outputs of one shape.
    private sealed record Operands(DeviceTensor W1, DeviceTensor? W1Scales, DeviceTensor W2, DeviceTensor? W2Scales, DeviceTensor Counts,
        DeviceTensor A, DeviceTensor? AScales, DeviceTensor GateUp, DeviceTensor H, DeviceTensor? HScales, DeviceTensor Y) : IDisposable
    {
        public static Operands Create(MoeExpertWeights w, int experts, int rows, MoeQuantMode quant, int seed, int device)
        {
            int hidden = w.Hidden, intermediate = w.IntermediateSize;
            var random = new Random(seed);
            BFloat16[] x = new BFloat16[(long)experts * rows * hidden];
            for (long i = 0; i < x.Length; i++)
            {
                x[i] = BFloat16.FromFloat((float)((random.NextDouble() * 2) - 1));
            }
            DeviceTensor counts = DeviceTensor.FromArray<int>(Enumerable.Repeat(rows, experts).ToArray(), [experts], device);
            DeviceTensor bf16 = DeviceTensor.FromArray<BFloat16>(x, [experts, rows, hidden], device);
            (DeviceTensor a, DeviceTensor? aScales) = quant == MoeQuantMode.None ? (bf16, null) : Activations(quant, experts, rows, hidden, device);
            if (quant != MoeQuantMode.None)
            {
                MoeKernels.SwigluQuant(bf16, counts, a, aScales);
                CudaStream.ForDevice(device).Synchronize();
                bf16.Dispose();
            }
            (DeviceTensor h, DeviceTensor? hScales) = Activations(quant, experts, rows, intermediate, device);
            return new Operands(w.W1.Slice(0, experts), w.W1Scales?.Slice(0, experts), w.W2.Slice(0, experts), w.W2Scales?.Slice(0, experts), counts,
                a, aScales, DeviceTensor.Empty(DType.Float32, [experts, rows, 2L * intermediate], device), h, hScales,
                DeviceTensor.Empty(DType.BFloat16, [experts, rows, hidden], device));
        }

        // [E, rows, width] in the format, with its scales (Int8: per row, Fp8: per 128 channels, BF16: none).
        private static (DeviceTensor Values, DeviceTensor? Scales) Activations(MoeQuantMode quant, int experts, int rows, int width, int device) => quant switch
        {
            MoeQuantMode.Int8 => (DeviceTensor.Empty(DType.Int8, [experts, rows, width], device), DeviceTensor.Empty(DType.Float32, [experts, rows], device)),
            MoeQuantMode.Fp8 => (DeviceTensor.Empty(DType.Float8E4M3, [experts, rows, width], device),
                DeviceTensor.Empty(DType.Float32, [experts, rows, width / Fp8Cast.ChannelsPerScale], device)),
            _ => (DeviceTensor.Empty(DType.BFloat16, [experts, rows, width], device), null),
        };

        public void Dispose()
        {
            foreach (DeviceTensor? t in (DeviceTensor?[])[W1, W1Scales, W2, W2Scales, Counts, A, AScales, GateUp, H, HScales, Y])
            {
                t?.Dispose();
            }
        }
    }
}
