using System.Runtime.InteropServices;
using System.Text.Json;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Cli.Bench.Fused;

/// <summary>
/// <c>--dump</c>: one quant mode's layer as raw little-endian files that <c>scripts/fused_moe_torch.py reference</c>
/// recomputes independently in float32 (the format is in that script's docstring): <c>{dir}/{quant}/meta.json</c> and
/// per rank <c>rank{r}/</c> x, top-k ids and weights, the stored weights and their scales, and the layer's output.
/// </summary>
internal static class FusedDump
{
    public static void Write(string dir, BenchSettings s, int rank, MoeQuantMode quant, BenchInputs mine, MoeExpertWeights hostWeights, BFloat16[] output)
    {
        string quantDir = Path.Combine(dir, FusedReport.QuantName(quant));
        string rankDir = Path.Combine(quantDir, $"rank{rank}");
        Directory.CreateDirectory(rankDir);
        if (rank == 0)
        {
            File.WriteAllText(Path.Combine(quantDir, "meta.json"), JsonSerializer.Serialize(new
            {
                ranks = s.Ranks,
                tokens = s.LowLatencyTokens,
                hidden = s.Hidden,
                intermediate = s.Intermediate,
                local_experts = s.LocalExperts,
                topk = s.Topk,
                quant = FusedReport.QuantName(quant),
            }));
        }
        void Save<T>(string name, ReadOnlySpan<T> values)
            where T : unmanaged => File.WriteAllBytes(Path.Combine(rankDir, name), MemoryMarshal.AsBytes(values).ToArray());
        Save<BFloat16>("x.bin", mine.X);
        Save<long>("topk_idx.bin", mine.TopkIdx);
        Save<float>("topk_weights.bin", mine.TopkWeights);
        Save<byte>("w1.bin", hostWeights.W1.ToArray<byte>());
        Save<byte>("w2.bin", hostWeights.W2.ToArray<byte>());
        if (hostWeights.W1Scales is { } w1Scales && hostWeights.W2Scales is { } w2Scales)
        {
            Save<float>("w1_scales.bin", w1Scales.ToArray<float>());
            Save<float>("w2_scales.bin", w2Scales.ToArray<float>());
        }
        Save<BFloat16>("out.bin", output);
    }
}
