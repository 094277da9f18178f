using System.Text.Json;
using DeepEP.Cli;

namespace DeepEP.Tests.Cli.Bench;

/// <summary>
/// <c>deepep bench --mode fused --dump DIR</c> on the host backend: per quant mode, the meta.json and per-rank files
/// that <c>scripts/fused_moe_torch.py reference</c> reads, each of the size its shape gives.
/// </summary>
public sealed class FusedDumpTests
{
    [Fact]
    public void EachRankWritesItsInputsWeightsAndOutputInTheScriptsFormat()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("deepep-dump-");
        try
        {
            int status = CliApp.Run(["bench", "--backend", "host", "--mode", "fused", "--quant", "int8", "--warmups", "0", "--iterations", "1", "--dump", dir.FullName],
                new StringWriter(), new StringWriter());
            Assert.Equal(0, status);
            string quantDir = Path.Combine(dir.FullName, "int8");
            using JsonDocument meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(quantDir, "meta.json")));
            int Meta(string name) => meta.RootElement.GetProperty(name).GetInt32();
            Assert.Equal("int8", meta.RootElement.GetProperty("quant").GetString());
            (int ranks, int t, int h, int i, int e, int k) = (Meta("ranks"), Meta("tokens"), Meta("hidden"), Meta("intermediate"), Meta("local_experts"), Meta("topk"));
            for (int r = 0; r < ranks; r++)
            {
                long Size(string file) => new FileInfo(Path.Combine(quantDir, $"rank{r}", file)).Length;
                Assert.Equal(2L * t * h, Size("x.bin"));
                Assert.Equal(8L * t * k, Size("topk_idx.bin"));
                Assert.Equal(4L * t * k, Size("topk_weights.bin"));
                Assert.Equal((long)e * 2 * i * h, Size("w1.bin"));
                Assert.Equal((long)e * h * i, Size("w2.bin"));
                Assert.Equal(4L * e * 2 * i, Size("w1_scales.bin"));
                Assert.Equal(4L * e * h, Size("w2_scales.bin"));
                Assert.Equal(2L * t * h, Size("out.bin"));
            }
            Assert.False(Directory.Exists(Path.Combine(dir.FullName, "fp8")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
