using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>One expert's weights dequantised to float64: W1 <c>[2I, H]</c> (gate rows first, then up), W2 <c>[H, I]</c>.</summary>
internal sealed record ReferenceExpert(double[] W1, double[] W2);

/// <summary>
/// The independent float64 oracle of the fused MoE layer: weights dequantised from the documented layouts, activations
/// never quantised, y = W2 · (silu(W1_gate · x) ⊙ (W1_up · x)) summed over the unmasked top-k slots with their weights.
/// </summary>
internal static class FusedMoeReference
{
    private const int Block = 128;

    /// <summary>Every local expert of <paramref name="weights"/>, stored value × its scale (per row for Int8, per 128 × 128 block for Fp8).</summary>
    public static ReferenceExpert[] Dequantise(MoeExpertWeights weights)
    {
        double[] w1 = Dequantise(weights.QuantMode, weights.W1, weights.W1Scales);
        double[] w2 = Dequantise(weights.QuantMode, weights.W2, weights.W2Scales);
        int w1Size = 2 * weights.IntermediateSize * weights.Hidden;
        int w2Size = weights.Hidden * weights.IntermediateSize;
        return [.. Enumerable.Range(0, weights.NumLocalExperts).Select(e =>
            new ReferenceExpert(w1.AsSpan(e * w1Size, w1Size).ToArray(), w2.AsSpan(e * w2Size, w2Size).ToArray()))];
    }

    /// <summary>The <c>[T, H]</c> layer output of one rank's tokens, row-major; <paramref name="experts"/> is indexed by global expert id.</summary>
    public static double[] Output(FusedMoeRankInputs rank, IReadOnlyList<ReferenceExpert> experts, int intermediate)
    {
        int hidden = rank.Hidden;
        var output = new double[rank.NumTokens * hidden];
        var x = new double[hidden];
        var h = new double[intermediate];
        for (int t = 0; t < rank.NumTokens; t++)
        {
            for (int c = 0; c < hidden; c++)
            {
                x[c] = rank.X[(t * hidden) + c].ToFloat();
            }
            for (int k = 0; k < rank.NumTopk; k++)
            {
                long expert = rank.TopkIdx[(t * rank.NumTopk) + k];
                if (expert < 0)
                {
                    continue;
                }
                ReferenceExpert weights = experts[(int)expert];
                for (int i = 0; i < intermediate; i++)
                {
                    double gate = Dot(weights.W1, i * hidden, x);
                    double up = Dot(weights.W1, (intermediate + i) * hidden, x);
                    h[i] = gate / (1 + Math.Exp(-gate)) * up;
                }
                double weight = rank.TopkWeights[(t * rank.NumTopk) + k];
                for (int c = 0; c < hidden; c++)
                {
                    output[(t * hidden) + c] += weight * Dot(weights.W2, c * intermediate, h);
                }
            }
        }
        return output;
    }

    /// <summary>Rows local expert e of <paramref name="rank"/> receives: unmasked slots of any rank naming global expert rank·E_l + e.</summary>
    public static int[] RecvCounts(IEnumerable<FusedMoeRankInputs> allRanks, int rank, int numLocalExperts)
    {
        var counts = new int[numLocalExperts];
        foreach (long expert in allRanks.SelectMany(inputs => inputs.TopkIdx))
        {
            if (expert >= 0 && expert / numLocalExperts == rank)
            {
                counts[expert % numLocalExperts]++;
            }
        }
        return counts;
    }

    /// <summary>
    /// 1 − 2Σxy / Σ(x² + y²) in float64: DeepEP's calc_diff without the +1 it adds to both sides (<c>CalcDiff.Of</c> in the
    /// CLI has it), so stricter on outputs near zero; 0 when both are empty or zero.
    /// </summary>
    public static double UnshiftedCalcDiff(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double xy = 0;
        double squares = 0;
        for (int i = 0; i < x.Count; i++)
        {
            xy += x[i] * y[i];
            squares += (x[i] * x[i]) + (y[i] * y[i]);
        }
        return squares == 0 ? 0 : 1 - (2 * xy / squares);
    }

    private static double[] Dequantise(MoeQuantMode mode, DeviceTensor stored, DeviceTensor? scales)
    {
        int rows = checked((int)stored.Size(1));
        int columns = checked((int)stored.Size(2));
        float[] scale = scales?.ToArray<float>() ?? [];
        double[] values = mode switch
        {
            MoeQuantMode.None => [.. stored.ToArray<BFloat16>().Select(v => (double)v.ToFloat())],
            MoeQuantMode.Int8 => [.. stored.ToArray<sbyte>().Select(v => (double)v)],
            _ => [.. stored.ToArray<Float8E4M3>().Select(v => (double)v.ToFloat())],
        };
        for (int i = 0; i < values.Length; i++)
        {
            int matrixRow = i / columns; // expert · rows + row
            values[i] *= mode switch
            {
                MoeQuantMode.None => 1,
                MoeQuantMode.Int8 => scale[matrixRow],
                _ => scale[(((matrixRow / rows * (rows / Block)) + (matrixRow % rows / Block)) * (columns / Block)) + (i % columns / Block)],
            };
        }
        return values;
    }

    private static double Dot(double[] matrix, int offset, double[] vector)
    {
        double sum = 0;
        for (int i = 0; i < vector.Length; i++)
        {
            sum += matrix[offset + i] * vector[i];
        }
        return sum;
    }
}
