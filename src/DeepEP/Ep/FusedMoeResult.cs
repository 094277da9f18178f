using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Result of <see cref="EpBuffer.FusedDeepMoe"/>.</summary>
/// <param name="Output"><c>[T, H]</c> BF16: for each token Σ_k topkWeights[t,k] · FFN_{topkIdx[t,k]}(x[t]), masked slots skipped.</param>
/// <param name="ExpertRecvCount"><c>[E_local]</c> Int32: rows each local expert of this rank received (DeepEP-Ascend's <c>ep_recv_count</c>).</param>
public sealed record FusedMoeResult(DeviceTensor Output, DeviceTensor ExpertRecvCount) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Output.Dispose();
        ExpertRecvCount.Dispose();
    }
}
