using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// <see cref="EpBuffer.FusedDeepMoe"/> on the kernels backend captured once into a CUDA graph (writing into an
/// <c>out</c> tensor) and replayed with fresh tokens, routing and top-k weights written into the captured inputs; each
/// replay's output, poisoned before it, is checked against the host backend on the same inputs (calc_diff as
/// <see cref="FusedMoeComparison"/>). The weights stay those captured.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class FusedMoeGraphTests(GpuFixture gpu)
{
    private const int Replays = 4;
    private const int Experts = 8;
    private const int Hidden = 512;
    private const int Intermediate = 256;
    private static readonly int[] s_tokens = [5, 2, 7, 1, 3, 0, 4, 6];

    public static TheoryData<int, MoeQuantMode> Suite => GpuRanks.Cross([MoeQuantMode.None, MoeQuantMode.Int8, MoeQuantMode.Fp8]);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Suite))]
    public void ReplaysWithFreshInputsMatchTheHostBackend(int ranks, MoeQuantMode quant)
    {
        gpu.Require();
        // Every replay's inputs come from their own seed; the weights are those of replay 0's case.
        FusedMoeGpuCase[] cases = [.. Enumerable.Range(0, Replays).Select(i =>
            new FusedMoeGpuCase(s_tokens[..ranks], Experts, Hidden, Intermediate, NumTopk: 6, quant, Seed: (1000 * ranks) + (10 * i) + (int)quant))];
        var inputs = new FusedMoeRankInputs[Replays][];
        MoeExpertWeights[] weights = [];
        for (int i = 0; i < Replays; i++)
        {
            (inputs[i], MoeExpertWeights[] drawn) = cases[i].Build();
            if (i == 0)
            {
                weights = drawn;
                continue;
            }
            foreach (MoeExpertWeights w in drawn)
            {
                w.Dispose();
            }
        }
        try
        {
            FusedMoeGpuCase c = cases[0];
            FusedMoeComparison.RankOutput[][] reference = [.. inputs.Select(replay => FusedMoeComparison.Run(EpBackendKind.Host, c, replay, weights))];
            BFloat16[][][] replayed = RankHarness.Run(ranks, EpBackendKind.Kernels,
                (group, _) => new EpBuffer(group, 0, c.RdmaBytes, lowLatencyMode: true,
                    new EpBufferOptions { Backend = EpBackendKind.Kernels, Timeout = TimeSpan.FromSeconds(20), ValidateExpertIds = false }),
                buffer => Replay(buffer, c, [.. inputs.Select(replay => replay[buffer.Rank])], weights[buffer.Rank]));
            for (int i = 0; i < Replays; i++)
            {
                var got = new List<double>();
                var want = new List<double>();
                for (int r = 0; r < ranks; r++)
                {
                    got.AddRange(replayed[r][i].Select(v => (double)v.ToFloat()));
                    want.AddRange(reference[i][r].Output.Select(v => (double)v.ToFloat()));
                }
                Assert.True(want.Any(v => v != 0), $"replay {i}: the reference is all zeros; the case checks nothing.");
                double diff = FusedMoeComparison.CalcDiff(got, want);
                double tolerance = quant == MoeQuantMode.None ? 1e-5 : 1e-3;
                Assert.True(diff <= tolerance, $"replay {i} of {c}: calc_diff {diff:E3} > {tolerance:E0}");
            }
        }
        finally
        {
            foreach (MoeExpertWeights w in weights)
            {
                w.Dispose();
            }
        }
    }

    // One rank: an eager call (compiles the kernels outside the capture), the capture, then each replay's inputs
    // uploaded into the captured tensors and its output read back.
    private static BFloat16[][] Replay(EpBuffer buffer, FusedMoeGpuCase c, FusedMoeRankInputs[] replays, MoeExpertWeights hostWeights)
    {
        int device = buffer.Device;
        int tokens = replays[0].NumTokens;
        CudaStream stream = CudaStream.ForDevice(device);
        using MoeExpertWeights weights = FusedMoeGpuCase.ToDevice(hostWeights, device);
        using DeviceTensor x = DeviceTensor.Empty(DType.BFloat16, [tokens, c.Hidden], device);
        using DeviceTensor topkIdx = DeviceTensor.Empty(DType.Int64, [tokens, c.NumTopk], device);
        using DeviceTensor topkWeights = DeviceTensor.Empty(DType.Float32, [tokens, c.NumTopk], device);
        using DeviceTensor output = DeviceTensor.Empty(DType.BFloat16, [tokens, c.Hidden], device);
        void Upload(FusedMoeRankInputs input)
        {
            x.CopyFrom<BFloat16>(input.X);
            topkIdx.CopyFrom<long>(input.TopkIdx);
            topkWeights.CopyFrom<float>(input.TopkWeights);
        }
        void Layer(CudaStream s)
        {
            using FusedMoeResult result = buffer.FusedDeepMoe(x, topkIdx, topkWeights, weights, c.MaxTokens, c.NumExperts, @out: output);
        }

        Upload(replays[0]);
        Layer(stream);
        stream.Synchronize();
        using CudaGraph graph = CudaGraph.Capture(stream, Layer);
        // Instantiation may wait for the whole GPU: no rank replays (and spins) before every rank has instantiated.
        buffer.Group.Barrier();
        var outputs = new BFloat16[replays.Length][];
        for (int i = 0; i < replays.Length; i++)
        {
            Upload(replays[i]);
            output.FillBytes(0xFF, stream);
            graph.Launch(stream);
            stream.Synchronize();
            outputs[i] = output.ToArray<BFloat16>();
        }
        return outputs;
    }
}
