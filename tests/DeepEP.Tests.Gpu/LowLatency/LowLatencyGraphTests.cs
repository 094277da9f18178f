using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// Dispatch + combine captured once into a CUDA graph and replayed 100 times, each replay on fresh routing and data
/// written into the captured input tensors, each result checked against Σ_k w·x computed on the host (with LogFMT-10,
/// Σ_k w·decoded x, the host codec's decoded row).
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class LowLatencyGraphTests(GpuFixture gpu)
{
    private const int Replays = 100;

    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void ReplaysWithFreshInputsMatchTheReference(int ranks) => Replay(ranks, logfmt: false);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void LogFmtReplaysWithFreshInputsMatchTheReference(int ranks) => Replay(ranks, logfmt: true);

    private void Replay(int ranks, bool logfmt)
    {
        gpu.Require();
        var c = new LowLatencyCase(Tokens: 32, MaxTokens: 32, Hidden: 2048, Experts: 16, Topk: 4, MaskedSlots: 3, UseFp8: false, UseLogfmt: logfmt);
        int[] mismatches = RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => LowLatencyKernelTests.Create(g, c, EpBackendKind.Kernels), buffer =>
        {
            int device = buffer.Device;
            CudaStream stream = CudaStream.ForDevice(device);
            using DeviceTensor x = DeviceTensor.Empty(DType.BFloat16, [c.Tokens, c.Hidden], device);
            using DeviceTensor topk = DeviceTensor.Empty(DType.Int64, [c.Tokens, c.Topk], device);
            using DeviceTensor weights = DeviceTensor.Empty(DType.Float32, [c.Tokens, c.Topk], device);
            using DeviceTensor output = DeviceTensor.Empty(DType.BFloat16, [c.Tokens, c.Hidden], device);

            // The identity expert: combine reads the dispatched BF16 rows as they are.
            void Step(CudaStream s)
            {
                using LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topk, c.MaxTokens, c.Experts, useFp8: false);
                using LowLatencyHandle handle = d.Handle;
                buffer.LowLatencyCombine(d.PackedRecvX, topk, weights, handle, useLogfmt: c.UseLogfmt, @out: output).Dispose();
            }

            Upload(c, buffer.Rank, -1, x, topk, weights);
            Step(stream);
            stream.Synchronize();
            using CudaGraph graph = CudaGraph.Capture(stream, Step);
            // Instantiation may wait for the whole GPU: no rank replays (and spins) before every rank has instantiated.
            buffer.Group.Barrier();
            int bad = 0;
            for (int replay = 0; replay < Replays; replay++)
            {
                (BFloat16[] xs, long[] topks, float[] ws) = Upload(c, buffer.Rank, replay, x, topk, weights);
                output.FillBytes(0xFF, stream);
                graph.Launch(stream);
                stream.Synchronize();
                bad += Expected(c, xs, topks, ws).AsSpan().SequenceEqual(output.ToArray<BFloat16>()) ? 0 : 1;
            }
            return bad;
        });
        Assert.All(mismatches, bad => Assert.Equal(0, bad));
    }

    private static (BFloat16[] X, long[] Topk, float[] Weights) Upload(LowLatencyCase c, int rank, int replay, DeviceTensor x, DeviceTensor topk, DeviceTensor weights)
    {
        (BFloat16[] xs, long[] topks, float[] ws) = (c with { Seed = replay + 1000 }).Inputs(rank);
        x.CopyFrom<BFloat16>(xs);
        topk.CopyFrom<long>(topks);
        weights.CopyFrom<float>(ws);
        return (xs, topks, ws);
    }

    // acc = fma(x, w, acc) over the valid slots in top-k order, rounded to BF16 once (spec §5.4); x decoded from its
    // LogFMT-10 message with useLogfmt.
    private static BFloat16[] Expected(LowLatencyCase c, BFloat16[] x, long[] topk, float[] weights)
    {
        var result = new BFloat16[c.Tokens * c.Hidden];
        var row = new float[c.Hidden];
        for (int t = 0; t < c.Tokens; t++)
        {
            ReadOnlySpan<BFloat16> values = x.AsSpan(t * c.Hidden, c.Hidden);
            if (c.UseLogfmt)
            {
                LogFmt10.Decode(LogFmt10.Encode(values), row);
            }
            else
            {
                for (int h = 0; h < c.Hidden; h++)
                {
                    row[h] = values[h].ToFloat();
                }
            }
            for (int h = 0; h < c.Hidden; h++)
            {
                float acc = 0;
                for (int k = 0; k < c.Topk; k++)
                {
                    if (topk[(t * c.Topk) + k] >= 0)
                    {
                        acc = MathF.FusedMultiplyAdd(row[h], weights[(t * c.Topk) + k], acc);
                    }
                }
                result[(t * c.Hidden) + h] = BFloat16.FromFloat(acc);
            }
        }
        return result;
    }
}
