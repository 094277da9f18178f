using DeepEP.Cli.Bench;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Ep;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>
/// <see cref="EpBuffer.FusedDeepMoe"/> on the host backend, ranks as threads, against the float64 oracle
/// (<see cref="FusedMoeReference"/>): DeepEP's calc_diff ≤ 1e-5 with BF16 weights, ≤ 1e-3 with Int8 and Fp8 (and without
/// its +1 shift: the same, Fp8 ≤ 2e-3); the received row counts exactly; both fuse modes bit for bit the same.
/// </summary>
public sealed class FusedMoeTests
{
    // T per rank: odd, 0, 1 and larger counts; a group of R ranks takes the first R.
    private static readonly int[] s_tokens = [3, 0, 1, 5, 2, 7, 1, 4];

    [Theory]
    [InlineData(1, MoeQuantMode.None, 8)]
    [InlineData(1, MoeQuantMode.Int8, 6)]
    [InlineData(1, MoeQuantMode.Fp8, 8)]
    [InlineData(2, MoeQuantMode.None, 6)]
    [InlineData(2, MoeQuantMode.Int8, 8)]
    [InlineData(2, MoeQuantMode.Fp8, 6)]
    [InlineData(4, MoeQuantMode.None, 8)]
    [InlineData(4, MoeQuantMode.Int8, 6)]
    [InlineData(4, MoeQuantMode.Fp8, 8)]
    [InlineData(8, MoeQuantMode.None, 6)]
    [InlineData(8, MoeQuantMode.Int8, 8)]
    [InlineData(8, MoeQuantMode.Fp8, 6)]
    public void MatchesTheFloat64Reference(int ranks, MoeQuantMode quant, int topk)
    {
        int hidden = ranks == 2 ? 512 : 256;
        RunAndCheck(new FusedMoeCase(s_tokens[..ranks], NumExperts: 16, hidden, Intermediate: 256, topk, quant, Seed: (ranks * 10) + (int)quant));
    }

    [Theory]
    [InlineData(MoeQuantMode.Int8)]
    [InlineData(MoeQuantMode.Fp8)]
    public void LargeHiddenSizeMatchesTheFloat64Reference(MoeQuantMode quant) =>
        RunAndCheck(new FusedMoeCase([2, 1], NumExperts: 8, Hidden: 2048, Intermediate: 256, NumTopk: 6, quant, Seed: 2048 + (int)quant));

    [Theory]
    [InlineData(MoeQuantMode.None)]
    [InlineData(MoeQuantMode.Fp8)]
    public void NoTokensAnywhereGiveEmptyOutputsAndZeroCounts(MoeQuantMode quant) =>
        RunAndCheck(new FusedMoeCase([0, 0], NumExperts: 8, Hidden: 256, Intermediate: 128, NumTopk: 8, quant, Seed: 7));

    [Fact]
    public void ATokenWithEveryTopkSlotMaskedGetsAZeroRow()
    {
        var c = new FusedMoeCase([1], NumExperts: 8, Hidden: 128, Intermediate: 128, NumTopk: 6, MoeQuantMode.Int8, Seed: 3);
        (FusedMoeRankInputs[] inputs, MoeExpertWeights[] weights) = c.Build();
        FusedMoeRankInputs masked = inputs[0] with { TopkIdx = [.. Enumerable.Repeat(-1L, c.NumTopk)] };
        using EpBuffer buffer = HostBuffers.Single(nvlBytes: 0, rdmaBytes: c.RdmaBytes);
        using MoeExpertWeights w = weights[0];
        using DeviceTensor x = masked.XTensor(), topkIdx = masked.TopkIdxTensor(), topkWeights = masked.TopkWeightsTensor();
        using FusedMoeResult result = buffer.FusedDeepMoe(x, topkIdx, topkWeights, w, c.MaxTokens, c.NumExperts);
        Assert.All(result.Output.ToArray<BFloat16>(), v => Assert.Equal(0f, v.ToFloat()));
        Assert.All(result.ExpertRecvCount.ToArray<int>(), n => Assert.Equal(0, n));
    }

    [Fact]
    public void AnOutTensorGetsTheOutputAndOutlivesTheResult()
    {
        var c = new FusedMoeCase([3], NumExperts: 8, Hidden: 256, Intermediate: 128, NumTopk: 6, MoeQuantMode.Fp8, Seed: 11);
        (FusedMoeRankInputs[] inputs, MoeExpertWeights[] weights) = c.Build();
        using EpBuffer buffer = HostBuffers.Single(nvlBytes: 0, rdmaBytes: c.RdmaBytes);
        using MoeExpertWeights w = weights[0];
        using DeviceTensor x = inputs[0].XTensor(), topkIdx = inputs[0].TopkIdxTensor(), topkWeights = inputs[0].TopkWeightsTensor();
        ushort[] expected;
        using (FusedMoeResult fresh = buffer.FusedDeepMoe(x, topkIdx, topkWeights, w, c.MaxTokens, c.NumExperts))
        {
            expected = [.. fresh.Output.ToArray<BFloat16>().Select(v => v.Bits)];
        }
        Assert.Contains(expected, bits => bits != 0);
        using DeviceTensor output = DeviceTensor.FromArray<BFloat16>([.. Enumerable.Repeat(new BFloat16(0x7fc1), 3 * c.Hidden)], [3, c.Hidden]);
        using (FusedMoeResult into = buffer.FusedDeepMoe(x, topkIdx, topkWeights, w, c.MaxTokens, c.NumExperts, @out: output))
        {
            Assert.Equal(output.Pointer, into.Output.Pointer);
        }
        Assert.Equal(expected, output.ToArray<BFloat16>().Select(v => v.Bits));

        using DeviceTensor wrongShape = DeviceTensor.Empty(DType.BFloat16, [2, c.Hidden]);
        var error = Assert.Throws<ArgumentException>(() => buffer.FusedDeepMoe(x, topkIdx, topkWeights, w, c.MaxTokens, c.NumExperts, @out: wrongShape));
        Assert.Equal("out", error.ParamName);
    }

    private static void RunAndCheck(FusedMoeCase c)
    {
        (FusedMoeRankInputs[] inputs, MoeExpertWeights[] weights) = c.Build();
        EpBuffer[] buffers = HostBuffers.Create(c.NumRanks, nvlBytes: 0, rdmaBytes: c.RdmaBytes);
        try
        {
            RankResult[] results = RankThreads.RunAll(c.NumRanks, r => Run(buffers[r], inputs[r], weights[r], c));
            ReferenceExpert[] experts = [.. weights.SelectMany(FusedMoeReference.Dequantise)];
            var got = new List<double>();
            var want = new List<double>();
            for (int r = 0; r < c.NumRanks; r++)
            {
                Assert.Equal(inputs[r].NumTokens * c.Hidden, results[r].Output.Length);
                Assert.Equal(results[r].Output, results[r].StagedOutput);
                Assert.Equal(FusedMoeReference.RecvCounts(inputs, r, c.NumLocalExperts), results[r].RecvCount);
                Assert.Equal(results[r].RecvCount, results[r].StagedRecvCount);
                got.AddRange(results[r].Output.Select(v => (double)v.ToFloat()));
                want.AddRange(FusedMoeReference.Output(inputs[r], experts, c.Intermediate));
            }
            double diff = CalcDiff.Of([.. got], [.. want]);
            double tolerance = c.Quant == MoeQuantMode.None ? 1e-5 : 1e-3;
            Assert.True(diff <= tolerance, $"{c}: calc_diff {diff:E3} > {tolerance:E0}");
            // Unshifted, two E4M3 activation casts (3 mantissa bits) against unquantised activations land near 1.1e-3.
            double unshifted = FusedMoeReference.UnshiftedCalcDiff(got, want);
            double unshiftedTolerance = c.Quant == MoeQuantMode.Fp8 ? 2e-3 : tolerance;
            Assert.True(unshifted <= unshiftedTolerance, $"{c}: unshifted calc_diff {unshifted:E3} > {unshiftedTolerance:E0}");
            Assert.True(want.Count == 0 || want.Any(v => v != 0), $"{c}: the reference is all zeros; the case checks nothing.");
        }
        finally
        {
            foreach (EpBuffer buffer in buffers)
            {
                buffer.Dispose();
            }
            foreach (MoeExpertWeights w in weights)
            {
                w.Dispose();
            }
        }
    }

    // Both fuse modes on one rank: the default (FusedDeepMoe) and the staged baseline (DispatchFfnCombine).
    private static RankResult Run(EpBuffer buffer, FusedMoeRankInputs inputs, MoeExpertWeights weights, FusedMoeCase c)
    {
        using DeviceTensor x = inputs.XTensor(), topkIdx = inputs.TopkIdxTensor(), topkWeights = inputs.TopkWeightsTensor();
        using FusedMoeResult fused = buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, c.MaxTokens, c.NumExperts);
        using FusedMoeResult staged = buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, c.MaxTokens, c.NumExperts, FuseMode.DispatchFfnCombine);
        Assert.Equal([inputs.NumTokens, c.Hidden], fused.Output.Shape.ToArray());
        Assert.Equal([c.NumLocalExperts], fused.ExpertRecvCount.Shape.ToArray());
        return new RankResult(fused.Output.ToArray<BFloat16>(), fused.ExpertRecvCount.ToArray<int>(), staged.Output.ToArray<BFloat16>(), staged.ExpertRecvCount.ToArray<int>());
    }

    private sealed record RankResult(BFloat16[] Output, int[] RecvCount, BFloat16[] StagedOutput, int[] StagedRecvCount);
}
