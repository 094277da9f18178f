namespace MoeLayer;

/// <summary>Standard-normal samples for the random weights and inputs.</summary>
internal static class RandomExtensions
{
    /// <summary>One N(0, 1) sample (Box–Muller).</summary>
    public static double NextGaussian(this Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
