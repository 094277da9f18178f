using DeepEP.Ep;

namespace DeepEP.Cli.Bench;

/// <summary>Which operations <c>deepep bench</c> measures.</summary>
internal enum BenchMode
{
    /// <summary>Normal and low-latency.</summary>
    All,
    /// <summary>Normal mode: layout, dispatch FP8/BF16, combine.</summary>
    Normal,
    /// <summary>Low-latency mode: dispatch, combine, both.</summary>
    LowLatency,
    /// <summary>The fused MoE layer (<c>FusedDeepMoe</c>, both fuse modes, each quant mode) and its grouped GEMMs alone.</summary>
    Fused,
}

/// <summary>Everything one <c>deepep bench</c> run needs.</summary>
/// <param name="Mode">Operations to measure.</param>
/// <param name="Ranks">Number of ranks (GPUs, or simulated ranks on the host backend).</param>
/// <param name="Backend">The engine.</param>
/// <param name="Tokens">Tokens per rank in normal mode.</param>
/// <param name="LowLatencyTokens">Tokens per rank in low-latency mode (also N, the per-rank capacity).</param>
/// <param name="Hidden">Hidden size H.</param>
/// <param name="Topk">Top-k K.</param>
/// <param name="Experts">Experts E in normal mode.</param>
/// <param name="LowLatencyExperts">Experts E in low-latency mode.</param>
/// <param name="NumSms">SMs for normal-mode kernels.</param>
/// <param name="Warmups">Untimed calls before measuring.</param>
/// <param name="Iterations">Timed calls.</param>
/// <param name="Seed">Seed of the random inputs.</param>
/// <param name="Intermediate">Fused mode: each expert's intermediate size I.</param>
/// <param name="LocalExperts">Fused mode: experts per rank (E = this × ranks).</param>
/// <param name="Quants">Fused mode: the quant modes to run (null: BF16, Int8 and Fp8).</param>
/// <param name="CheckTokens">Fused mode on a GPU backend: tokens per rank checked against the host backend.</param>
/// <param name="Dump">Fused mode: the folder each quant mode's inputs, weights and outputs are written to (<see cref="Fused.FusedDump"/>), or null.</param>
internal sealed record BenchSettings(
    BenchMode Mode,
    int Ranks,
    EpBackendKind Backend,
    int Tokens,
    int LowLatencyTokens,
    int Hidden,
    int Topk,
    int Experts,
    int LowLatencyExperts,
    int NumSms,
    int Warmups,
    int Iterations,
    int Seed,
    int Intermediate = 2048,
    int LocalExperts = 32,
    IReadOnlyList<MoeQuantMode>? Quants = null,
    int CheckTokens = 8,
    string? Dump = null)
{
    /// <summary>The quant modes fused mode runs.</summary>
    public IReadOnlyList<MoeQuantMode> FusedQuants => Quants ?? [MoeQuantMode.None, MoeQuantMode.Int8, MoeQuantMode.Fp8];

    /// <summary>The default dispatch configuration for <see cref="Ranks"/> with <see cref="NumSms"/> SMs.</summary>
    public EpConfig DispatchConfig => WithSms(EpBuffer.GetDispatchConfig(Ranks));

    /// <summary>The default combine configuration for <see cref="Ranks"/> with <see cref="NumSms"/> SMs.</summary>
    public EpConfig CombineConfig => WithSms(EpBuffer.GetCombineConfig(Ranks));

    /// <summary>The most ranks a bench runs (several ranks may share a GPU).</summary>
    public const int MaxRanks = 32;

    /// <summary>The most normal-mode tokens per rank.</summary>
    public const int MaxTokens = 65536;

    /// <summary>The most low-latency tokens per rank (N).</summary>
    public const int MaxLowLatencyTokens = 1024;

    /// <summary>The largest hidden size.</summary>
    public const int MaxHidden = 32768;

    /// <summary>
    /// The first problem with these settings, phrased for the command line (the option, the bad value, the valid
    /// range), or null when they are valid. Only the modes that run are checked.
    /// </summary>
    public string? Validate()
    {
        bool normal = Mode is BenchMode.All or BenchMode.Normal, lowLatency = Mode is BenchMode.All or BenchMode.LowLatency, fused = Mode == BenchMode.Fused;
        int maxTopk = Math.Min(EpBuffer.MaxTopk, Math.Min(normal ? Experts : int.MaxValue, lowLatency ? LowLatencyExperts : fused ? LocalExperts * Ranks : int.MaxValue));
        (bool Bad, Func<string> Problem)[] checks =
        [
            (Ranks is < 1 or > MaxRanks, () => OutOfRange("--ranks", Ranks, $"1 to {MaxRanks}")),
            (normal && Tokens is < 1 or > MaxTokens, () => OutOfRange("--tokens", Tokens, $"1 to {MaxTokens}")),
            ((lowLatency || fused) && LowLatencyTokens is < 1 or > MaxLowLatencyTokens, () => OutOfRange("--ll-tokens", LowLatencyTokens, $"1 to {MaxLowLatencyTokens}")),
            (Hidden is < 128 or > MaxHidden || Hidden % 128 != 0,
                () => OutOfRange("--hidden", Hidden, $"a multiple of 128 from 128 to {MaxHidden} (FP8 scales cover 128 channels)")),
            (normal && !ExpertsFit(Experts), () => ExpertsRange("--experts", Experts)),
            (lowLatency && !ExpertsFit(LowLatencyExperts), () => ExpertsRange("--ll-experts", LowLatencyExperts)),
            (fused && (Intermediate is < 128 or > MaxHidden || Intermediate % 128 != 0),
                () => OutOfRange("--intermediate", Intermediate, $"a multiple of 128 from 128 to {MaxHidden} (scales cover 128 channels)")),
            (fused && LocalExperts is < 1 or > EpBuffer.MaxLocalExperts, () => OutOfRange("--local-experts", LocalExperts, $"1 to {EpBuffer.MaxLocalExperts}")),
            (fused && Backend != EpBackendKind.Host && (CheckTokens < 1 || CheckTokens > LowLatencyTokens), () => OutOfRange("--check-tokens", CheckTokens, $"1 to --ll-tokens ({LowLatencyTokens})")),
            (Topk < 1 || Topk > maxTopk, () => OutOfRange("--topk", Topk, maxTopk < EpBuffer.MaxTopk ? $"1 to {maxTopk}, the expert count" : $"1 to {maxTopk}")),
            (Warmups < 0, () => OutOfRange("--warmups", Warmups, "0 or more")),
            (Iterations < 1, () => OutOfRange("--iterations", Iterations, "1 or more (10 or more for timings worth comparing)")),
        ];
        return checks.FirstOrDefault(c => c.Bad).Problem?.Invoke();
    }

    private bool ExpertsFit(int experts) => Ranks >= 1 && experts >= Ranks && experts % Ranks == 0 && experts / Ranks <= EpBuffer.MaxLocalExperts;

    private string ExpertsRange(string option, int experts) =>
        OutOfRange(option, experts, $"a multiple of the rank count ({Ranks}) from {Ranks} to {Ranks * EpBuffer.MaxLocalExperts}");

    private static string OutOfRange(string option, int value, string valid) => $"{option} {value} is not valid: use {valid}.";

    private EpConfig WithSms(EpConfig c) =>
        new(NumSms, c.NumMaxNvlChunkedSendTokens, c.NumMaxNvlChunkedRecvTokens, c.NumMaxRdmaChunkedSendTokens, c.NumMaxRdmaChunkedRecvTokens);
}
