using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of <see cref="EpBuffer.GetDispatchLayout"/> (spec §1).</summary>
/// <param name="NumTokensPerRank"><c>[R]</c> Int32: tokens with at least one expert on each rank.</param>
/// <param name="NumTokensPerRdmaRank"><c>[R/8]</c> Int32 when <c>R &gt; 8</c>, otherwise null.</param>
/// <param name="NumTokensPerExpert"><c>[E]</c> Int32: (token, slot) pairs selecting each expert.</param>
/// <param name="IsTokenInRank"><c>[T, R]</c> Bool: token t has an expert on rank d.</param>
/// <param name="Event">Completion event when <c>asyncFinish</c> was requested.</param>
public sealed record DispatchLayout(
    DeviceTensor NumTokensPerRank,
    DeviceTensor? NumTokensPerRdmaRank,
    DeviceTensor NumTokensPerExpert,
    DeviceTensor IsTokenInRank,
    EventOverlap Event) : IDisposable
{
    /// <summary>Frees the layout tensors (stream-ordered on the stream they were allocated on).</summary>
    public void Dispose()
    {
        NumTokensPerRank.Dispose();
        NumTokensPerRdmaRank?.Dispose();
        NumTokensPerExpert.Dispose();
        IsTokenInRank.Dispose();
    }
}
