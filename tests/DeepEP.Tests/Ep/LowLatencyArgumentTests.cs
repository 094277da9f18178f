using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

public sealed class LowLatencyArgumentTests
{
    private const int N = 8;
    private const int Hidden = 512;
    private const int Experts = 4;

    private static EpBuffer Buffer(EpBufferOptions? options = null) =>
        HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts), options: options);

    [Fact]
    public void NeedsLowLatencyMode()
    {
        using var buffer = HostBuffers.Single();
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        Assert.Throws<InvalidOperationException>(() => buffer.LowLatencyDispatch(x, topk, N, Experts));
    }

    [Fact]
    public void TokensMustFitTheCapacity()
    {
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, N + 1, Hidden);
        using var topk = HostBuffers.Topk(new long[(N + 1) * 2], 2);
        var e = HostBuffers.Throws<ArgumentException>("x", () => buffer.LowLatencyDispatch(x, topk, N, Experts));
        Assert.Contains("numMaxDispatchTokensPerRank", e.Message);
    }

    [Fact]
    public void HiddenMustBeAMultipleOf128()
    {
        using var buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts));
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, 192);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        HostBuffers.Throws<ArgumentException>("hidden", () => buffer.LowLatencyDispatch(x, topk, N, Experts));
    }

    [Fact]
    public void BufferMustHoldTheWorstCase()
    {
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        var e = HostBuffers.Throws<ArgumentException>("numMaxDispatchTokensPerRank", () => buffer.LowLatencyDispatch(x, topk, 4 * N, Experts));
        Assert.Contains("GetLowLatencyRdmaSizeHint", e.Message);
    }

    [Fact]
    public void ATokenMaySelectAnExpertOnlyOnce()
    {
        // Found by ApiPropertyTests: with N = 1 the duplicate overflowed the expert's R*N rows after the exchange.
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, 1, Hidden);
        using var topk = HostBuffers.Topk([2, 2], 2);
        var e = HostBuffers.Throws<ArgumentException>("topkIdx", () => buffer.LowLatencyDispatch(x, topk, 1, Experts));
        Assert.Contains("selects expert 2 twice", e.Message);
    }

    [Fact]
    public void Ue8m0NeedsRoundScale()
    {
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        HostBuffers.Throws<ArgumentException>("useUe8m0", () => buffer.LowLatencyDispatch(x, topk, N, Experts, useUe8m0: true));
    }

    [Fact]
    public void AsyncFinishAndHookExcludeEachOther()
    {
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        HostBuffers.Throws<ArgumentException>("asyncFinish", () => buffer.LowLatencyDispatch(x, topk, N, Experts, asyncFinish: true, returnRecvHook: true));
    }

    [Fact]
    public void StatisticsMustHaveTheirShapes()
    {
        using var buffer = Buffer();
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var wrong = HostBuffers.Zeros(DType.Int64, 3);
        HostBuffers.Throws<ArgumentException>("cumulativeLocalExpertRecvStats", () => buffer.LowLatencyDispatch(x, topk, N, Experts, cumulativeLocalExpertRecvStats: wrong));
        HostBuffers.Throws<ArgumentException>("dispatchWaitRecvCostStats", () => buffer.LowLatencyDispatch(x, topk, N, Experts, dispatchWaitRecvCostStats: wrong));
    }

    [Fact]
    public void CombineChecksItsTensors()
    {
        using var buffer = Buffer();
        using var x = DispatchArgumentTests.Random(2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var weights = DeviceTensor.FromArray<float>([1f, 1f, 1f, 1f], [2, 2]);
        LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: false);
        using var expertOutput = HostBuffers.Zeros(DType.BFloat16, Experts, N, Hidden);
        using var badOut = HostBuffers.Zeros(DType.BFloat16, 3, Hidden);
        HostBuffers.Throws<ArgumentException>("x", () => buffer.LowLatencyCombine(x, topk, weights, dispatched.Handle));
        HostBuffers.Throws<ArgumentException>("useLogfmt", () => buffer.LowLatencyCombine(expertOutput, topk, weights, dispatched.Handle, useLogfmt: true, zeroCopy: true));
        HostBuffers.Throws<ArgumentException>("out", () => buffer.LowLatencyCombine(expertOutput, topk, weights, dispatched.Handle, @out: badOut));
        using var badWeights = HostBuffers.Zeros(DType.Float32, 2, 3);
        HostBuffers.Throws<ArgumentException>("topkWeights", () => buffer.LowLatencyCombine(expertOutput, topk, badWeights, dispatched.Handle));
    }

    [Fact]
    public void LogFmtNeedsWholeStages()
    {
        const int Narrow = 384; // a multiple of 128, not of 512
        using var buffer = Buffer();
        using var x = DispatchArgumentTests.Random(2, Narrow);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var weights = DeviceTensor.FromArray<float>([1f, 1f, 1f, 1f], [2, 2]);
        LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: false);
        using var expertOutput = HostBuffers.Zeros(DType.BFloat16, Experts, N, Narrow);
        var e = HostBuffers.Throws<ArgumentException>("useLogfmt", () => buffer.LowLatencyCombine(expertOutput, topk, weights, dispatched.Handle, useLogfmt: true));
        Assert.Contains("multiple of 512", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MaskingNeedsShrinkMode()
    {
        using var buffer = Buffer();
        Assert.Throws<InvalidOperationException>(() => buffer.LowLatencyUpdateMaskBuffer(0, mask: true));
    }

    [Fact]
    public void MaskedRankMustExist()
    {
        using var buffer = Buffer(new EpBufferOptions { EnableShrink = true });
        HostBuffers.Throws<ArgumentException>("rankToMask", () => buffer.LowLatencyUpdateMaskBuffer(1, mask: true));
    }
}
