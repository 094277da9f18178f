namespace DeepEP.Tests.Gpu.Support;

/// <summary>Skewed routing: 80 % of the tokens put the same three experts (all on rank 0) first in their top-k.</summary>
internal static class SkewedRouting
{
    private static readonly long[] HotExperts = [0, 1, 2];

    /// <summary>Rewrites the rows of <paramref name="topk"/> (<c>[tokens, k]</c>, distinct experts per row) in place.</summary>
    public static void Apply(Random random, long[] topk, int k)
    {
        for (int row = 0; row + k <= topk.Length && k > 0; row += k)
        {
            if (random.NextDouble() >= 0.8)
            {
                continue;
            }
            Span<long> slots = topk.AsSpan(row, k);
            long[] rest = slots.ToArray().Where(e => !HotExperts.Contains(e)).ToArray();
            HotExperts.Concat(rest).Take(k).ToArray().CopyTo(slots);
        }
    }
}
