using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// The kernels backend's low-latency mode against the CPU reference. Both pack each expert's rows in (source rank,
/// token, top-k slot) order, so counts, ranges, statistics, valid rows, scales and combined outputs must be
/// byte-identical (stricter than the spec's order-independent checks).
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class LowLatencyKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, string> Suite => GpuRanks.Cross(LowLatencyCases.Suite.Keys);

    public static TheoryData<int, string> Shapes => GpuRanks.Cross(LowLatencyCases.Shapes.Keys, ShapeCases.Counts);

    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Suite))]
    public void MatchesTheReference(int ranks, string name)
    {
        gpu.Require();
        LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Suite[name]);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Shapes))]
    public void ProductionShapesMatchTheReference(int ranks, string name)
    {
        gpu.Require();
        // Each rank holds its low-latency buffer, the FP8 packed rows and the BF16 expert outputs ([E_l, R·N, H] each):
        // e512 is 13.5 GB a rank, which eight ranks sharing an 80 GB H100 cannot have (they ran out of memory there).
        LowLatencyCase c = LowLatencyCases.Shapes[name];
        long perRank = EpBuffer.GetLowLatencyRdmaSizeHint(c.MaxTokens, c.Hidden, ranks, c.Experts) + (3L * c.Experts * c.MaxTokens * c.Hidden);
        long needed = perRank * ((ranks + gpu.DeviceCount - 1) / gpu.DeviceCount);
        long total = CudaDevice.Get(0).TotalMemoryBytes;
        if (needed > total * 9 / 10)
        {
            Assert.Skip($"{ranks} ranks of {name} on {gpu.DeviceCount} GPU(s) need about {needed >> 30} GiB per GPU; this one has {total >> 30} GiB.");
        }
        LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.Shapes[name]);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void AThirdOutstandingHookIsRefused(int ranks)
    {
        gpu.Require();
        ThirdOutstandingHookIsRefused(EpBackendKind.Kernels, ranks);
    }

    /// <summary>The check behind both backends' tests; the caller has required a GPU.</summary>
    internal static void ThirdOutstandingHookIsRefused(EpBackendKind backend, int ranks)
    {
        var c = new LowLatencyCase(Tokens: 8, MaxTokens: 8, Hidden: 1024, Experts: 8, Topk: 2, MaskedSlots: 0, UseFp8: false);
        string[] messages = RankHarness.Run(ranks, backend, (g, r) => Create(g, c, backend), buffer =>
        {
            (Tensors.BFloat16[] xs, long[] topks, _) = c.Inputs(buffer.Rank);
            using var x = Tensors.DeviceTensor.FromArray<Tensors.BFloat16>(xs, [c.Tokens, c.Hidden], buffer.Device);
            using var topk = Tensors.DeviceTensor.FromArray<long>(topks, [c.Tokens, c.Topk], buffer.Device);
            using LowLatencyDispatchResult first = buffer.LowLatencyDispatch(x, topk, c.MaxTokens, c.Experts, useFp8: false, returnRecvHook: true);
            using LowLatencyDispatchResult second = buffer.LowLatencyDispatch(x, topk, c.MaxTokens, c.Experts, useFp8: false, returnRecvHook: true);
            var refused = Assert.Throws<InvalidOperationException>(() => buffer.LowLatencyDispatch(x, topk, c.MaxTokens, c.Experts, useFp8: false, returnRecvHook: true));
            first.Hook!();
            second.Hook!();
            first.Handle.Dispose();
            second.Handle.Dispose();
            Tensors.DeviceTensor counts = first.PackedRecvCount;
            Assert.Equal(c.Experts / buffer.GroupSize, counts.ToArray<int>().Length);
            return refused.Message;
        });
        Assert.All(messages, m => Assert.Contains("at most two", m, StringComparison.Ordinal));
    }

    /// <summary>A low-latency buffer for <paramref name="c"/> on the rank's default GPU.</summary>
    internal static EpBuffer Create(ProcessGroup group, LowLatencyCase c, EpBackendKind backend, bool shrink = false, double timeoutSeconds = 20) =>
        new(group, 0, c.BufferBytes(group.Size), lowLatencyMode: true,
            new EpBufferOptions { Backend = backend, EnableShrink = shrink, Timeout = TimeSpan.FromSeconds(timeoutSeconds), SharedExpertRankNum = c.SharedExpertRanks });
}
