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
    int Seed)
{
    /// <summary>The default dispatch configuration for <see cref="Ranks"/> with <see cref="NumSms"/> SMs.</summary>
    public EpConfig DispatchConfig => WithSms(EpBuffer.GetDispatchConfig(Ranks));

    /// <summary>The default combine configuration for <see cref="Ranks"/> with <see cref="NumSms"/> SMs.</summary>
    public EpConfig CombineConfig => WithSms(EpBuffer.GetCombineConfig(Ranks));

    private EpConfig WithSms(EpConfig c) =>
        new(NumSms, c.NumMaxNvlChunkedSendTokens, c.NumMaxNvlChunkedRecvTokens, c.NumMaxRdmaChunkedSendTokens, c.NumMaxRdmaChunkedRecvTokens);
}
