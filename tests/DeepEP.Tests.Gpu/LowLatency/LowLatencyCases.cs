using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// The named low-latency cases. Names keep theory rows serialisable (each row its own test, filterable by the rank
/// trait); the process-model test runs the same <see cref="Suite"/> in one process per rank.
/// </summary>
internal static class LowLatencyCases
{
    /// <summary>BF16 and FP8 (plain, round-scale, UE8M0), hook, async, zero-copy, H = 384 … 8192, 0 / 1 / N tokens.</summary>
    public static readonly IReadOnlyDictionary<string, LowLatencyCase> Suite = new Dictionary<string, LowLatencyCase>
    {
        ["t1-h2048-bf16"] = new(Tokens: 1, MaxTokens: 8, Hidden: 2048, Experts: 16, Topk: 4, MaskedSlots: 0, UseFp8: false),
        ["t64-h7168-fp8"] = new(Tokens: 64, MaxTokens: 64, Hidden: 7168, Experts: 32, Topk: 8, MaskedSlots: 10, UseFp8: true),
        ["t50-h7168-fp8-round-hook"] = new(Tokens: 50, MaxTokens: 64, Hidden: 7168, Experts: 32, Topk: 8, MaskedSlots: 5, UseFp8: true, RoundScale: true, Hook: true),
        ["t64-h8192-fp8-ue8m0-async"] = new(Tokens: 64, MaxTokens: 96, Hidden: 8192, Experts: 24, Topk: 6, MaskedSlots: 3, UseFp8: true, RoundScale: true, UseUe8m0: true, AsyncFinish: true),
        ["t128-h2560-bf16-zero-copy"] = new(Tokens: 128, MaxTokens: 128, Hidden: 2560, Experts: 48, Topk: 8, MaskedSlots: 0, UseFp8: false, ZeroCopy: true),
        ["t33-h384-bf16-k11-hook-zero-copy"] = new(Tokens: 33, MaxTokens: 40, Hidden: 384, Experts: 64, Topk: 11, MaskedSlots: 7, UseFp8: false, Hook: true, ZeroCopy: true),
        ["t40-h1152-fp8-odd-groups"] = new(Tokens: 40, MaxTokens: 48, Hidden: 1152, Experts: 16, Topk: 4, MaskedSlots: 2, UseFp8: true),
        // One shared-expert rank: 42 routed experts divide over the other 1, 3 and 7 ranks (2, 4 and 8 ranks).
        ["t24-h2048-bf16-shared-expert"] = new(Tokens: 24, MaxTokens: 32, Hidden: 2048, Experts: 42, Topk: 6, MaskedSlots: 4, UseFp8: false, SharedExpertRanks: 1),
        ["t0-h1024-fp8"] = new(Tokens: 0, MaxTokens: 16, Hidden: 1024, Experts: 8, Topk: 2, MaskedSlots: 0, UseFp8: true),
    };

    /// <summary>LogFMT-10 combine (H a multiple of 512): BF16 and FP8 dispatch, hook, async, 1024- and 512-value stages.</summary>
    public static readonly IReadOnlyDictionary<string, LowLatencyCase> LogFmt = new Dictionary<string, LowLatencyCase>
    {
        ["t64-h7168-bf16-logfmt"] = new(Tokens: 64, MaxTokens: 64, Hidden: 7168, Experts: 32, Topk: 8, MaskedSlots: 10, UseFp8: false, UseLogfmt: true),
        ["t50-h2048-fp8-hook-logfmt"] = new(Tokens: 50, MaxTokens: 64, Hidden: 2048, Experts: 16, Topk: 6, MaskedSlots: 5, UseFp8: true, Hook: true, Seed: 3, UseLogfmt: true),
        ["t33-h2560-bf16-async-logfmt"] = new(Tokens: 33, MaxTokens: 40, Hidden: 2560, Experts: 24, Topk: 4, MaskedSlots: 3, UseFp8: false, AsyncFinish: true, Seed: 5, UseLogfmt: true),
        ["t5-h1024-bf16-logfmt"] = new(Tokens: 5, MaxTokens: 16, Hidden: 1024, Experts: 8, Topk: 2, MaskedSlots: 1, UseFp8: false, Seed: 7, UseLogfmt: true),
    };

    /// <summary>
    /// The production shapes of <see cref="ShapeCases"/> in FP8 with a hook, except 4097 tokens: a low-latency buffer for
    /// that many tokens per rank is tens of GB per rank (decode batches are 1–256 tokens).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, LowLatencyCase> Shapes = ShapeCases.All
        .Where(s => s.Value.Tokens <= 512)
        .ToDictionary(s => s.Key, s => new LowLatencyCase(s.Value.Tokens, s.Value.Tokens, s.Value.Hidden, s.Value.Experts, s.Value.Topk,
            MaskedSlots: 3, UseFp8: true, Hook: true, Seed: 17, Skewed: s.Value.Skewed));
}
