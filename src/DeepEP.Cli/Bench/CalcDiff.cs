namespace DeepEP.Cli.Bench;

/// <summary>DeepEP's test metric <c>calc_diff</c>: 1 - 2·Σ(x+1)(y+1) / Σ((x+1)² + (y+1)²) in float64; 0 for identical inputs.</summary>
internal static class CalcDiff
{
    /// <summary>The difference of two equally long sequences.</summary>
    public static double Of(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"Lengths differ: {x.Length} vs {y.Length}.", nameof(y));
        }
        double cross = 0;
        double squares = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double a = x[i] + 1;
            double b = y[i] + 1;
            cross += a * b;
            squares += (a * a) + (b * b);
        }
        return squares == 0 ? 0 : 1 - (2 * cross / squares);
    }
}
