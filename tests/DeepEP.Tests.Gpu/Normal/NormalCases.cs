using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>One normal-mode run: the inputs, the expert alignment, the SM count asked for and whether calls return events.</summary>
internal sealed record NormalRun(NormalCase Case, int Alignment = 1, int NumSms = 24, bool AsyncFinish = false);

/// <summary>
/// The named normal-mode cases. Names keep theory rows serialisable, so each row is its own test and the rank trait
/// filters it; the process-model test runs the same <see cref="Suite"/> in one process per rank.
/// </summary>
internal static class NormalCases
{
    /// <summary>The general suite: empty, one, odd and large token counts, masked slots, alignment, events, one hot expert.</summary>
    public static readonly IReadOnlyDictionary<string, NormalRun> Suite = new Dictionary<string, NormalRun>
    {
        ["t0-h2048-e16-k4"] = new(new NormalCase(0, 2048, 16, 4, Seed: 2048)),
        ["t1-h128-e8-k2"] = new(new NormalCase(1, 128, 8, 2, Seed: 129)),
        ["t37-h2048-e64-k6-masked-align4"] = new(new NormalCase(37, 2048, 64, 6, Seed: 2085, MaskedSlots: 5), Alignment: 4),
        ["t512-h7168-e256-k8"] = new(new NormalCase(512, 7168, 256, 8, Seed: 7680)),
        ["t1024-h4096-e32-k1-masked-align8"] = new(new NormalCase(1024, 4096, 32, 1, Seed: 5120, MaskedSlots: 20), Alignment: 8),
        ["t300-h8192-e256-k9-masked"] = new(new NormalCase(300, 8192, 256, 9, Seed: 8492, MaskedSlots: 3)),
        ["t256-h1024-e32-k4-async"] = new(new NormalCase(256, 1024, 32, 4, Seed: 7), NumSms: 8, AsyncFinish: true),
        ["t200-h512-e16-k3-one-expert"] = new(new NormalCase(200, 512, 16, 3, Seed: 3, OnlyExpert: 5), NumSms: 4),
    };

    /// <summary>
    /// Production shapes at 4 and 8 ranks: one axis at a time away from 333 tokens, hidden 7168, top-8 of 256 experts
    /// (hidden 2560–7168, top-k 1–9, 64–512 experts, 1–4097 tokens), plus skewed routing.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, NormalRun> Shapes = ShapeCases.All.ToDictionary(
        s => s.Key, s => new NormalRun(new NormalCase(s.Value.Tokens, s.Value.Hidden, s.Value.Experts, s.Value.Topk, Seed: 17, MaskedSlots: 3, Skewed: s.Value.Skewed)));
}
