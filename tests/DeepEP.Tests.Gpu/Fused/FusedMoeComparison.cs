using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// Runs <see cref="EpBuffer.FusedDeepMoe"/> on the host backend (the reference) and on a GPU backend with the same
/// inputs and weights: per-expert received counts equal, the two fuse modes bit for bit equal on the GPU, and the
/// outputs of all ranks within DeepEP's calc_diff (with its +1 shift) of 1e-5 for BF16 weights, 1e-3 for Int8 and Fp8
/// (only accumulation order differs: every quantisation step is the host's). The caller has required a GPU.
/// </summary>
internal static class FusedMoeComparison
{
    /// <summary>The named cases; each takes the first R entries of its tokens per rank.</summary>
    public static readonly IReadOnlyDictionary<string, (MoeQuantMode Quant, int Topk, int[] Tokens)> Cases = new Dictionary<string, (MoeQuantMode, int, int[])>
    {
        ["bf16-k6"] = (MoeQuantMode.None, 6, [3, 0, 1, 5, 2, 7, 1, 4]),
        ["bf16-k8"] = (MoeQuantMode.None, 8, [5, 1, 0, 3, 7, 2, 4, 1]),
        ["int8-k6"] = (MoeQuantMode.Int8, 6, [3, 0, 1, 5, 2, 7, 1, 4]),
        ["int8-k8"] = (MoeQuantMode.Int8, 8, [5, 1, 0, 3, 7, 2, 4, 1]),
        ["fp8-k6"] = (MoeQuantMode.Fp8, 6, [3, 0, 1, 5, 2, 7, 1, 4]),
        ["fp8-k8"] = (MoeQuantMode.Fp8, 8, [5, 1, 0, 3, 7, 2, 4, 1]),
        ["int8-k8-no-tokens"] = (MoeQuantMode.Int8, 8, [0, 0, 0, 0, 0, 0, 0, 0]),
        ["fp8-k6-one-token"] = (MoeQuantMode.Fp8, 6, [1, 1, 1, 1, 1, 1, 1, 1]),
    };

    /// <summary>The rank counts the kernels backend runs every case at.</summary>
    public static readonly int[] RankCounts = [1, 2, 4, 8];

    private const int Experts = 8;
    private const int Hidden = 2048;
    private const int Intermediate = 1536;

    public static void MatchesTheHost(EpBackendKind backend, int ranks, string name)
    {
        (MoeQuantMode quant, int topk, int[] tokens) = Cases[name];
        var c = new FusedMoeGpuCase(tokens[..ranks], Experts, Hidden, Intermediate, topk, quant, Seed: HashCode.Combine(name, ranks));
        (FusedMoeRankInputs[] inputs, MoeExpertWeights[] weights) = c.Build();
        try
        {
            RankOutput[] reference = Run(EpBackendKind.Host, c, inputs, weights);
            PoolPoison.Fill();
            RankOutput[] actual = Run(backend, c, inputs, weights);
            var got = new List<double>();
            var want = new List<double>();
            for (int r = 0; r < ranks; r++)
            {
                Assert.Equal(reference[r].RecvCount, actual[r].RecvCount);
                Assert.Equal(actual[r].Output, actual[r].StagedOutput);
                Assert.Equal(inputs[r].NumTokens * Hidden, actual[r].Output.Length);
                got.AddRange(actual[r].Output.Select(v => (double)v.ToFloat()));
                want.AddRange(reference[r].Output.Select(v => (double)v.ToFloat()));
            }
            double diff = CalcDiff(got, want);
            double tolerance = quant == MoeQuantMode.None ? 1e-5 : 1e-3;
            Assert.True(diff <= tolerance, $"{backend} {c}: calc_diff {diff:E3} > {tolerance:E0}");
        }
        finally
        {
            foreach (MoeExpertWeights w in weights)
            {
                w.Dispose();
            }
        }
    }

    /// <summary>Both fuse modes on every rank of <paramref name="backend"/>, ranks as threads.</summary>
    internal static RankOutput[] Run(EpBackendKind backend, FusedMoeGpuCase c, FusedMoeRankInputs[] inputs, MoeExpertWeights[] weights) =>
        RankHarness.Run(c.NumRanks, backend,
            (group, _) => new EpBuffer(group, 0, c.RdmaBytes, lowLatencyMode: true, new EpBufferOptions { Backend = backend, Timeout = TimeSpan.FromSeconds(20) }),
            buffer =>
            {
                FusedMoeRankInputs input = inputs[buffer.Rank];
                int device = buffer.Device;
                using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(input.X, [input.NumTokens, c.Hidden], device);
                using DeviceTensor topkIdx = DeviceTensor.FromArray<long>(input.TopkIdx, [input.NumTokens, c.NumTopk], device);
                using DeviceTensor topkWeights = DeviceTensor.FromArray<float>(input.TopkWeights, [input.NumTokens, c.NumTopk], device);
                MoeExpertWeights w = weights[buffer.Rank];
                using MoeExpertWeights? onDevice = device == DeviceTensor.HostDevice ? null : FusedMoeGpuCase.ToDevice(w, device);
                using FusedMoeResult fused = buffer.FusedDeepMoe(x, topkIdx, topkWeights, onDevice ?? w, c.MaxTokens, c.NumExperts);
                using FusedMoeResult staged = buffer.FusedDeepMoe(x, topkIdx, topkWeights, onDevice ?? w, c.MaxTokens, c.NumExperts, FuseMode.DispatchFfnCombine);
                Assert.Equal([input.NumTokens, c.Hidden], fused.Output.Shape.ToArray());
                return new RankOutput(fused.Output.ToArray<BFloat16>(), fused.ExpertRecvCount.ToArray<int>(), staged.Output.ToArray<BFloat16>());
            });

    /// <summary>DeepEP's calc_diff: 1 − 2Σxy / Σ(x² + y²) after adding 1 to both sides.</summary>
    internal static double CalcDiff(List<double> x, List<double> y)
    {
        double cross = 0, squares = 0;
        for (int i = 0; i < x.Count; i++)
        {
            (double a, double b) = (x[i] + 1, y[i] + 1);
            cross += a * b;
            squares += (a * a) + (b * b);
        }
        return squares == 0 ? 0 : 1 - (2 * cross / squares);
    }

    internal sealed record RankOutput(BFloat16[] Output, int[] RecvCount, BFloat16[] StagedOutput);
}
