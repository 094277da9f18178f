using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of a normal-mode <see cref="EpBuffer.Combine"/> (spec §3).</summary>
/// <param name="CombinedX"><c>[T, H]</c> BF16: bias plus the unweighted sum of every rank's row for the token, in rank order.</param>
/// <param name="CombinedTopkWeights"><c>[T, K]</c> Float32 sums of the returned weights (null when none were given).</param>
/// <param name="Event">Completion event when <c>asyncFinish</c> was requested.</param>
public sealed record CombineResult(DeviceTensor CombinedX, DeviceTensor? CombinedTopkWeights, EventOverlap Event) : IDisposable
{
    /// <summary>Frees the combined tensors.</summary>
    public void Dispose()
    {
        CombinedX.Dispose();
        CombinedTopkWeights?.Dispose();
    }
}
