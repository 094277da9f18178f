using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// A rank that never joins a low-latency operation: with masking the survivors mask it at the deadline and finish
/// without its experts; without masking the deadline ends in a CommunicationTimeoutException. Never a hang.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class LowLatencyMaskingTests(GpuFixture gpu)
{
    private static readonly LowLatencyCase Case = new(Tokens: 16, MaxTokens: 16, Hidden: 1024, Experts: 8, Topk: 4, MaskedSlots: 0, UseFp8: false);

    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void ASilentRankIsMaskedAndLeftOut(int ranks)
    {
        gpu.Require();
        CompileKernels(ranks);
        int dead = ranks - 1;
        // The silent rank stays alive until the survivors are done: its buffer's teardown frees memory, and a free waits
        // for the GPU while it holds the driver's lock, so on a shared GPU it would hold back the survivors' launches past
        // their deadline (they then mask each other; seen at 8 ranks on one H100).
        using var survivorsDone = new CountdownEvent(ranks - 1);
        string[] outcomes = RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => LowLatencyKernelTests.Create(g, Case, EpBackendKind.Kernels, shrink: true, timeoutSeconds: 1), buffer =>
        {
            (BFloat16[] xs, long[] topks, float[] ws) = Case.Inputs(buffer.Rank);
            using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(xs, [Case.Tokens, Case.Hidden], buffer.Device);
            using DeviceTensor topk = DeviceTensor.FromArray<long>(topks, [Case.Tokens, Case.Topk], buffer.Device);
            using DeviceTensor weights = DeviceTensor.FromArray<float>(ws, [Case.Tokens, Case.Topk], buffer.Device);
            // One round with every rank first: the kernels are compiled before the 1 s deadline counts.
            DispatchAndCombine(buffer, x, topk, weights).Dispose();
            if (buffer.Rank == dead)
            {
                survivorsDone.Wait(RankHarness.HangLimit);
                return "dead";
            }
            LowLatencyCombineResult SecondRound()
            {
                try
                {
                    LowLatencyCombineResult result = DispatchAndCombine(buffer, x, topk, weights);
                    CudaStream.ForDevice(buffer.Device).Synchronize();
                    return result;
                }
                finally
                {
                    survivorsDone.Signal();
                }
            }
            using LowLatencyCombineResult combined = SecondRound();
            using DeviceTensor mask = DeviceTensor.Empty(DType.Int32, [ranks], buffer.Device);
            buffer.LowLatencyQueryMaskBuffer(mask);
            int[] masked = mask.ToArray<int>();
            Assert.Equal(Enumerable.Range(0, ranks).Select(r => r == dead ? 1 : 0), masked);

            // Slots owned by the dead rank count as -1.
            int localExperts = Case.Experts / ranks;
            BFloat16[] got = combined.CombinedX.ToArray<BFloat16>();
            for (int t = 0; t < Case.Tokens; t++)
            {
                for (int h = 0; h < Case.Hidden; h++)
                {
                    float acc = 0;
                    for (int k = 0; k < Case.Topk; k++)
                    {
                        long e = topks[(t * Case.Topk) + k];
                        if (e >= 0 && e / localExperts != dead)
                        {
                            acc = MathF.FusedMultiplyAdd(xs[(t * Case.Hidden) + h].ToFloat(), ws[(t * Case.Topk) + k], acc);
                        }
                    }
                    Assert.Equal(BFloat16.FromFloat(acc), got[(t * Case.Hidden) + h]);
                }
            }
            buffer.LowLatencyCleanMaskBuffer();
            buffer.LowLatencyQueryMaskBuffer(mask);
            Assert.All(mask.ToArray<int>(), m => Assert.Equal(0, m));
            return "survived";
        });
        Assert.Equal(ranks - 1, outcomes.Count(o => o == "survived"));
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void WithoutMaskingASilentRankTimesOut(int ranks)
    {
        gpu.Require();
        CompileKernels(ranks);
        string[] outcomes = RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => LowLatencyKernelTests.Create(g, Case, EpBackendKind.Kernels, timeoutSeconds: 1), buffer =>
        {
            (BFloat16[] xs, long[] topks, float[] ws) = Case.Inputs(buffer.Rank);
            using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(xs, [Case.Tokens, Case.Hidden], buffer.Device);
            using DeviceTensor topk = DeviceTensor.FromArray<long>(topks, [Case.Tokens, Case.Topk], buffer.Device);
            using DeviceTensor weights = DeviceTensor.FromArray<float>(ws, [Case.Tokens, Case.Topk], buffer.Device);
            DispatchAndCombine(buffer, x, topk, weights).Dispose();
            if (buffer.Rank != 0)
            {
                return "silent";
            }
            // This dispatch's receive misses the deadline in the kernel; the next call reports it.
            using (LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topk, Case.MaxTokens, Case.Experts, useFp8: false))
            {
                d.Handle.Dispose();
            }
            CudaStream.ForDevice(buffer.Device).Synchronize();
            var timeout = Assert.Throws<CommunicationTimeoutException>(() => buffer.LowLatencyDispatch(x, topk, Case.MaxTokens, Case.Experts, useFp8: false));
            return timeout.Message;
        });
        Assert.Contains("low-latency dispatch receive", outcomes[0], StringComparison.Ordinal);
    }

    private static LowLatencyCombineResult DispatchAndCombine(EpBuffer buffer, DeviceTensor x, DeviceTensor topk, DeviceTensor weights)
    {
        using LowLatencyDispatchResult d = buffer.LowLatencyDispatch(x, topk, Case.MaxTokens, Case.Experts, useFp8: false);
        using LowLatencyHandle handle = d.Handle;
        return buffer.LowLatencyCombine(d.PackedRecvX, topk, weights, handle);
    }

    // A first call compiles and loads the kernels, which can take longer than the 1 s deadline of the tests above.
    private static void CompileKernels(int ranks) =>
        RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => LowLatencyKernelTests.Create(g, Case, EpBackendKind.Kernels), buffer =>
        {
            (BFloat16[] xs, long[] topks, float[] ws) = Case.Inputs(buffer.Rank);
            using DeviceTensor x = DeviceTensor.FromArray<BFloat16>(xs, [Case.Tokens, Case.Hidden], buffer.Device);
            using DeviceTensor topk = DeviceTensor.FromArray<long>(topks, [Case.Tokens, Case.Topk], buffer.Device);
            using DeviceTensor weights = DeviceTensor.FromArray<float>(ws, [Case.Tokens, Case.Topk], buffer.Device);
            DispatchAndCombine(buffer, x, topk, weights).Dispose();
            return 0;
        });
}
