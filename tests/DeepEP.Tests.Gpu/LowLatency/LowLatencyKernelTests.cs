using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tests.Gpu.Normal;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// The kernels backend's low-latency mode against the CPU reference. Both pack each expert's rows in (source rank,
/// token, top-k slot) order, so counts, ranges, statistics, valid rows, scales and combined outputs must be
/// byte-identical (stricter than the spec's order-independent checks).
/// </summary>
public sealed class LowLatencyKernelTests
{
    public static TheoryData<LowLatencyCase> Cases => new()
    {
        new LowLatencyCase(Tokens: 1, MaxTokens: 8, Hidden: 2048, Experts: 16, Topk: 4, MaskedSlots: 0, UseFp8: false),
        new LowLatencyCase(Tokens: 64, MaxTokens: 64, Hidden: 7168, Experts: 32, Topk: 8, MaskedSlots: 10, UseFp8: true),
        new LowLatencyCase(Tokens: 50, MaxTokens: 64, Hidden: 7168, Experts: 32, Topk: 8, MaskedSlots: 5, UseFp8: true, RoundScale: true, Hook: true),
        new LowLatencyCase(Tokens: 64, MaxTokens: 96, Hidden: 8192, Experts: 24, Topk: 6, MaskedSlots: 3, UseFp8: true, RoundScale: true, UseUe8m0: true, AsyncFinish: true),
        new LowLatencyCase(Tokens: 128, MaxTokens: 128, Hidden: 2560, Experts: 48, Topk: 8, MaskedSlots: 0, UseFp8: false, ZeroCopy: true),
        new LowLatencyCase(Tokens: 33, MaxTokens: 40, Hidden: 384, Experts: 64, Topk: 11, MaskedSlots: 7, UseFp8: false, Hook: true, ZeroCopy: true),
        new LowLatencyCase(Tokens: 0, MaxTokens: 16, Hidden: 1024, Experts: 8, Topk: 2, MaskedSlots: 0, UseFp8: true),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(LowLatencyCase c) => LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, c);

    [Fact]
    public void AThirdOutstandingHookIsRefused() => ThirdOutstandingHookIsRefused(EpBackendKind.Kernels);

    internal static void ThirdOutstandingHookIsRefused(EpBackendKind backend)
    {
        int ranks = RequirePeers();
        var c = new LowLatencyCase(Tokens: 8, MaxTokens: 8, Hidden: 1024, Experts: 8, Topk: 2, MaskedSlots: 0, UseFp8: false);
        string[] messages = RankHarness.Run(ranks, backend, (g, r) => Create(g, r, c, backend), buffer =>
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

    internal static EpBuffer Create(Distributed.ProcessGroup group, int rank, LowLatencyCase c, EpBackendKind backend, bool shrink = false, double timeoutSeconds = 20) =>
        new(group, 0, c.BufferBytes(group.Size), lowLatencyMode: true,
            new EpBufferOptions { Backend = backend, Device = rank, EnableShrink = shrink, Timeout = TimeSpan.FromSeconds(timeoutSeconds) });

    internal static int RequirePeers()
    {
        Assert.SkipUnless(CudaDevice.IsAvailable && CudaDevice.Count >= 2, "Needs at least two GPUs with peer access.");
        return CudaDevice.Count;
    }
}
