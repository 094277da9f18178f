using DeepEP.Tensors;

namespace MoeLayer;

/// <summary>The reference: the same layer computed densely on one rank, every token through its top-k experts, in float64 sums.</summary>
internal static class DenseLayer
{
    /// <summary>The layer's output for every rank's <c>[T, H]</c> tokens.</summary>
    public static double[][] Forward(Router router, Experts experts, LayerShape shape, BFloat16[][] tokensPerRank, int tokens)
    {
        int hidden = shape.Hidden, topk = shape.Topk;
        return tokensPerRank.Select(rankTokens =>
        {
            float[] x = Experts.ToFloat(rankTokens);
            (long[] topkIdx, float[] topkWeights) = router.Route(x, tokens);
            var y = new double[tokens * hidden];
            var row = new float[hidden];
            for (int t = 0; t < tokens; t++)
            {
                for (int k = 0; k < topk; k++)
                {
                    Array.Clear(row);
                    experts.Accumulate((int)topkIdx[(t * topk) + k], x.AsSpan(t * hidden, hidden), row, topkWeights[(t * topk) + k]);
                    for (int h = 0; h < hidden; h++)
                    {
                        y[(t * hidden) + h] += row[h];
                    }
                }
            }
            return y;
        }).ToArray();
    }

    /// <summary>
    /// DeepEP's <c>calc_diff</c> of the expert-parallel output against the dense one, <c>1 - 2·Σxy / Σ(x² + y²)</c>
    /// (0 when equal), and the largest absolute difference.
    /// </summary>
    public static (double CalcDiff, double MaxAbs) Compare(float[][] parallel, double[][] dense)
    {
        double xy = 0, squares = 0, maxAbs = 0;
        for (int r = 0; r < dense.Length; r++)
        {
            for (int i = 0; i < dense[r].Length; i++)
            {
                double x = parallel[r][i], y = dense[r][i];
                xy += x * y;
                squares += (x * x) + (y * y);
                maxAbs = Math.Max(maxAbs, Math.Abs(x - y));
            }
        }
        return (squares == 0 ? 0 : 1 - (2 * xy / squares), maxAbs);
    }
}
