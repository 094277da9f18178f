namespace MoeLayer;

/// <summary>The gate: softmax over <c>x · W_gate</c>, the top-k experts, their probabilities renormalised to sum to 1.</summary>
internal sealed class Router(float[] gate, int hidden, int experts, int topk)
{
    /// <summary>A random <c>[H, E]</c> gate.</summary>
    public static Router Create(LayerShape shape, Random random)
    {
        var gate = new float[shape.Hidden * shape.Experts];
        for (int i = 0; i < gate.Length; i++)
        {
            gate[i] = (float)(random.NextGaussian() / Math.Sqrt(shape.Hidden));
        }
        return new Router(gate, shape.Hidden, shape.Experts, shape.Topk);
    }

    /// <summary>Routes <c>[T, H]</c> rows: <c>[T, K]</c> expert ids (Int64, as EpBuffer takes them) and weights.</summary>
    public (long[] TopkIdx, float[] TopkWeights) Route(float[] x, int tokens)
    {
        var topkIdx = new long[tokens * topk];
        var topkWeights = new float[tokens * topk];
        var probabilities = new double[experts];
        for (int t = 0; t < tokens; t++)
        {
            for (int e = 0; e < experts; e++)
            {
                double logit = 0;
                for (int h = 0; h < hidden; h++)
                {
                    logit += x[(t * hidden) + h] * gate[(h * experts) + e];
                }
                probabilities[e] = logit;
            }
            // Softmax, up to its denominator, which the renormalisation over the chosen experts cancels.
            double max = probabilities.Max();
            for (int e = 0; e < experts; e++)
            {
                probabilities[e] = Math.Exp(probabilities[e] - max);
            }
            int[] chosen = Enumerable.Range(0, experts).OrderByDescending(e => probabilities[e]).Take(topk).ToArray();
            double chosenSum = chosen.Sum(e => probabilities[e]);
            for (int k = 0; k < topk; k++)
            {
                topkIdx[(t * topk) + k] = chosen[k];
                topkWeights[(t * topk) + k] = (float)(probabilities[chosen[k]] / chosenSum);
            }
        }
        return (topkIdx, topkWeights);
    }
}
