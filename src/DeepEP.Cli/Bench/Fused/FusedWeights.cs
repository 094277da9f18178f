using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>
/// Random expert weights for the fused-MoE bench: host BF16 <c>W1 [E_local, 2I, H]</c> and <c>W2 [E_local, H, I]</c>,
/// uniform with variance 1/fan-in (the scale of a trained layer's activations), generated in parallel from a hash of
/// (seed, element index) so a full DeepSeek-V3 rank (1.9·10⁹ values) takes seconds, then quantised with
/// <see cref="MoeExpertWeights.Quantize"/> where they will be used (on a GPU by its cast kernels, the host's bits).
/// </summary>
internal static class FusedWeights
{
    private const int Chunk = 1 << 20;

    /// <summary>Weights of <paramref name="rank"/> in <paramref name="quant"/>'s format on <paramref name="device"/> (the caller disposes them).</summary>
    public static MoeExpertWeights Create(int seed, int rank, int localExperts, int hidden, int intermediate, MoeQuantMode quant, int device)
    {
        ulong stream = ((ulong)(uint)seed << 32) | (uint)rank;
        using DeviceTensor w1 = Random(stream * 2, [localExperts, 2L * intermediate, hidden], hidden);
        using DeviceTensor w2 = Random((stream * 2) + 1, [localExperts, hidden, intermediate], intermediate);
        if (device == DeviceTensor.HostDevice)
        {
            return MoeExpertWeights.Quantize(w1, w2, quant);
        }
        using DeviceTensor w1Device = w1.To(device), w2Device = w2.To(device);
        MoeExpertWeights weights = MoeExpertWeights.Quantize(w1Device, w2Device, quant);
        CudaStream.ForDevice(device).Synchronize();
        return weights;
    }

    /// <summary>
    /// Bytes of weights and scales a layer reads: every expert that received at least one row has its <c>W1</c> and
    /// <c>W2</c> (and their scales) read once; experts with no rows are skipped by the kernels.
    /// </summary>
    public static long BytesRead(MoeExpertWeights w, int expertsWithRows)
    {
        long perExpert = (w.W1.ByteSize + w.W2.ByteSize + (w.W1Scales?.ByteSize ?? 0) + (w.W2Scales?.ByteSize ?? 0)) / w.NumLocalExperts;
        return perExpert * expertsWithRows;
    }

    /// <summary>FLOPs of the two GEMMs over <paramref name="rows"/> valid rows: 2·rows·(2I)·H + 2·rows·H·I.</summary>
    public static double Flops(long rows, int hidden, int intermediate) => (2.0 * rows * 2 * intermediate * hidden) + (2.0 * rows * hidden * intermediate);

    private static DeviceTensor Random(ulong stream, long[] shape, int fanIn)
    {
        DeviceTensor tensor = DeviceTensor.Empty(DType.BFloat16, shape);
        long count = tensor.NumElements;
        // Uniform on [-a, a) has variance a²/3: a = √(3 / fan-in).
        float amplitude = MathF.Sqrt(3f / fanIn);
        Parallel.For(0, (count + Chunk - 1) / Chunk, chunk =>
        {
            Span<BFloat16> values = tensor.AsSpan<BFloat16>();
            long end = Math.Min(count, (chunk + 1) * Chunk);
            for (long i = chunk * Chunk; i < end; i++)
            {
                ulong bits = SplitMix64((stream * 0x9E3779B97F4A7C15UL) ^ (ulong)i);
                float unit = ((bits >> 40) * (1f / (1 << 24) * 2)) - 1;
                values[(int)i] = BFloat16.FromFloat(unit * amplitude);
            }
        });
        return tensor;
    }

    private static ulong SplitMix64(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
