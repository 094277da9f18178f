using DeepEP.Tensors;

namespace MoeLayer;

/// <summary>
/// Every expert's SwiGLU FFN, <c>y = W2 · (silu(W1 · x) ⊙ (W3 · x))</c>, in plain C# on the host (a real model runs a
/// grouped GEMM here, e.g. with TorchSharp on the tensors' device). Each rank applies only its own experts.
/// </summary>
internal sealed class Experts
{
    private readonly LayerShape _shape;
    private readonly float[][] _w1;  // [E][F, H]: the projection silu applies to
    private readonly float[][] _w3;  // [E][F, H]: the linear projection
    private readonly float[][] _w2;  // [E][H, F]: the down projection

    private Experts(LayerShape shape, float[][] w1, float[][] w3, float[][] w2) => (_shape, _w1, _w3, _w2) = (shape, w1, w3, w2);

    /// <summary>Random weights, scaled so activations stay near unit variance.</summary>
    public static Experts Create(LayerShape shape, Random random)
    {
        float[][] Matrix(int fanIn, int fanOut) => Enumerable.Range(0, shape.Experts)
            .Select(_ => Enumerable.Range(0, fanIn * fanOut).Select(_ => (float)(random.NextGaussian() / Math.Sqrt(fanIn))).ToArray()).ToArray();
        return new Experts(shape, Matrix(shape.Hidden, shape.Intermediate), Matrix(shape.Hidden, shape.Intermediate), Matrix(shape.Intermediate, shape.Hidden));
    }

    /// <summary>Adds <paramref name="weight"/> · FFN of global expert <paramref name="expert"/> at <paramref name="x"/> to <paramref name="y"/>.</summary>
    public void Accumulate(int expert, ReadOnlySpan<float> x, Span<float> y, float weight)
    {
        int hidden = _shape.Hidden, intermediate = _shape.Intermediate;
        Span<float> h = stackalloc float[intermediate];
        for (int f = 0; f < intermediate; f++)
        {
            float gate = Dot(x, _w1[expert].AsSpan(f * hidden, hidden));
            float linear = Dot(x, _w3[expert].AsSpan(f * hidden, hidden));
            h[f] = gate / (1 + MathF.Exp(-gate)) * linear;
        }
        for (int o = 0; o < hidden; o++)
        {
            y[o] += weight * Dot(h, _w2[expert].AsSpan(o * intermediate, intermediate));
        }
    }

    /// <summary>
    /// Normal mode: each received row (<c>[M, H]</c> BF16) through this rank's experts it selected (rebased ids, -1
    /// elsewhere), weighted: combine sums what comes back unweighted. Writes <c>[M, H]</c> BF16 into <paramref name="output"/>.
    /// </summary>
    public void Run(DeviceTensor recvX, DeviceTensor recvTopkIdx, DeviceTensor recvTopkWeights, int rank, DeviceTensor output)
    {
        int hidden = _shape.Hidden, topk = _shape.Topk, rows = checked((int)recvX.Size(0));
        float[] x = ToFloat(recvX.ToArray<BFloat16>());
        long[] idx = recvTopkIdx.ToArray<long>();
        float[] weights = recvTopkWeights.ToArray<float>();
        var y = new float[rows * hidden];
        for (int m = 0; m < rows; m++)
        {
            for (int k = 0; k < topk; k++)
            {
                if (idx[(m * topk) + k] is >= 0 and long local)
                {
                    Accumulate((rank * _shape.ExpertsPerRank) + (int)local, x.AsSpan(m * hidden, hidden), y.AsSpan(m * hidden, hidden), weights[(m * topk) + k]);
                }
            }
        }
        output.CopyFrom<BFloat16>(ToBFloat16(y));
    }

    /// <summary>
    /// Low-latency mode: expert e's first <c>count[e]</c> packed rows (<c>[E_l, R*N, H]</c> FP8 with per-128-channel
    /// scales) through expert e, unweighted: low-latency combine applies the weights. Returns <c>[E_l, R*N, H]</c> BF16.
    /// </summary>
    public DeviceTensor RunPacked(DeviceTensor packedX, DeviceTensor packedScales, DeviceTensor packedCount, int rank)
    {
        int localExperts = checked((int)packedX.Size(0)), slots = checked((int)packedX.Size(1)), hidden = _shape.Hidden;
        using DeviceTensor data = packedX.View(localExperts * slots, hidden).To(DeviceTensor.HostDevice);
        using DeviceTensor scales = DeviceTensor.FromArray<float>(packedScales.ToArray<float>(), [localExperts * slots, hidden / Fp8Cast.ChannelsPerScale]);
        using DeviceTensor dequantized = Fp8Cast.PerTokenCastBack(data, scales);
        float[] x = ToFloat(dequantized.ToArray<BFloat16>());
        int[] count = packedCount.ToArray<int>();
        var y = new float[localExperts * slots * hidden];
        for (int e = 0; e < localExperts; e++)
        {
            for (int row = e * slots; row < (e * slots) + count[e]; row++)
            {
                Accumulate((rank * _shape.ExpertsPerRank) + e, x.AsSpan(row * hidden, hidden), y.AsSpan(row * hidden, hidden), 1f);
            }
        }
        return DeviceTensor.FromArray<BFloat16>(ToBFloat16(y), [localExperts, slots, hidden], packedX.Device);
    }

    /// <summary>
    /// This rank's experts in <c>MoeExpertWeights</c>' layout on <paramref name="device"/>: W1 <c>[E_l, 2F, H]</c> BF16
    /// (rows 0..F-1 the gate, silu's input; F..2F-1 the linear projection) and W2 <c>[E_l, H, F]</c> BF16.
    /// </summary>
    public (DeviceTensor W1, DeviceTensor W2) LocalWeights(int rank, int device)
    {
        IEnumerable<float[]> Local(float[][] matrices) => matrices.Skip(rank * _shape.ExpertsPerRank).Take(_shape.ExpertsPerRank);
        float[] w1 = [.. Local(_w1).Zip(Local(_w3), (gate, linear) => gate.Concat(linear)).SelectMany(rows => rows)];
        float[] w2 = [.. Local(_w2).SelectMany(rows => rows)];
        long experts = _shape.ExpertsPerRank, hidden = _shape.Hidden, intermediate = _shape.Intermediate;
        return (DeviceTensor.FromArray<BFloat16>(ToBFloat16(w1), [experts, 2 * intermediate, hidden], device),
                DeviceTensor.FromArray<BFloat16>(ToBFloat16(w2), [experts, hidden, intermediate], device));
    }

    /// <summary>BF16 values as floats.</summary>
    public static float[] ToFloat(BFloat16[] values) => Array.ConvertAll(values, v => v.ToFloat());

    /// <summary>Floats rounded to BF16.</summary>
    public static BFloat16[] ToBFloat16(float[] values) => Array.ConvertAll(values, BFloat16.FromFloat);

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
