using DeepEP.Ep;

namespace DeepEP.Cli.Soak;

/// <summary>Which operations each soak iteration runs.</summary>
internal enum SoakMode
{
    /// <summary>Normal mode then low-latency mode.</summary>
    Both,
    /// <summary>Layout, dispatch and combine.</summary>
    Normal,
    /// <summary>Low-latency dispatch and combine.</summary>
    LowLatency,
}

/// <summary>Everything one <c>deepep soak</c> run needs.</summary>
/// <param name="Iterations">Iterations per rank; each runs every operation of <paramref name="Mode"/> once.</param>
/// <param name="Ranks">Number of ranks.</param>
/// <param name="Backend">The engine.</param>
/// <param name="Mode">Operations per iteration.</param>
/// <param name="Tokens">Tokens per rank (also the low-latency capacity N).</param>
/// <param name="Hidden">Hidden size H (a multiple of 128).</param>
/// <param name="Experts">Experts E (a multiple of the rank count).</param>
/// <param name="Topk">Experts per token.</param>
/// <param name="WarmupIterations">Iterations before the memory baseline is taken.</param>
/// <param name="MaxMemoryGrowth">Largest allowed growth of resident memory after warm-up, as a fraction (0.05 = 5 %).</param>
internal sealed record SoakSettings(
    int Iterations,
    int Ranks,
    EpBackendKind Backend,
    SoakMode Mode,
    int Tokens,
    int Hidden,
    int Experts,
    int Topk,
    int WarmupIterations,
    double MaxMemoryGrowth)
{
    public bool RunsNormal => Mode != SoakMode.LowLatency;

    public bool RunsLowLatency => Mode != SoakMode.Normal;
}
