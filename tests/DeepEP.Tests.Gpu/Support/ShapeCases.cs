namespace DeepEP.Tests.Gpu.Support;

/// <summary>A routing shape both modes run at 4 and 8 ranks.</summary>
internal sealed record Shape(int Tokens, int Hidden, int Experts, int Topk, bool Skewed = false);

/// <summary>Production shapes: one axis at a time away from 333 tokens, hidden 7168, top-8 of 256 experts.</summary>
internal static class ShapeCases
{
    /// <summary>The rank counts the shapes run at.</summary>
    public static readonly int[] Counts = [4, 8];

    private static readonly Shape Base = new(333, 7168, 256, 8);

    public static readonly IReadOnlyDictionary<string, Shape> All = Build();

    private static Dictionary<string, Shape> Build()
    {
        var shapes = new Dictionary<string, Shape> { ["base"] = Base, ["skewed"] = Base with { Skewed = true } };
        foreach (int hidden in new[] { 2560, 5120, 6144 })
        {
            shapes[$"h{hidden}"] = Base with { Hidden = hidden };
        }
        foreach (int topk in new[] { 1, 6, 9 })
        {
            shapes[$"k{topk}"] = Base with { Topk = topk };
        }
        foreach (int experts in new[] { 64, 160, 512 })
        {
            shapes[$"e{experts}"] = Base with { Experts = experts };
        }
        foreach (int tokens in new[] { 1, 4097 })
        {
            shapes[$"t{tokens}"] = Base with { Tokens = tokens };
        }
        return shapes;
    }
}
