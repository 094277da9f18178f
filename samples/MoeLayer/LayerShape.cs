namespace MoeLayer;

/// <summary>The sizes of the layer and of the batches each rank feeds it.</summary>
/// <param name="Ranks">R, the expert-parallel ranks.</param>
/// <param name="Tokens">Tokens per rank in normal mode (training, prefill).</param>
/// <param name="DecodeTokens">Tokens per rank in low-latency mode (decode); also N, the per-rank capacity.</param>
/// <param name="Hidden">H, the model width (a multiple of 128: FP8 scales cover 128 channels).</param>
/// <param name="Intermediate">F, the width inside each expert's SwiGLU.</param>
/// <param name="ExpertsPerRank">Experts each rank holds; E = R × this.</param>
/// <param name="Topk">K, the experts each token is routed to.</param>
internal sealed record LayerShape(int Ranks, int Tokens, int DecodeTokens, int Hidden, int Intermediate, int ExpertsPerRank, int Topk)
{
    /// <summary>E, all experts of the layer.</summary>
    public int Experts => Ranks * ExpertsPerRank;
}
