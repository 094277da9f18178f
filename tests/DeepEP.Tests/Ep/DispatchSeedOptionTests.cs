using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>
/// DeepEP-Ascend's per-dispatch options on the host backend (issue 15): INT8 quantisation inside normal dispatch
/// (DEEP_NORMAL_MODE_USE_INT8_QUANT / useInt8Quant) and the per-call form of the per-expert counts
/// (MOE_EXPERT_TOKEN_NUMS_TYPE / expertTokenNumsType), in normal and low-latency mode.
/// </summary>
public sealed class DispatchSeedOptionTests
{
    private const int N = 8;
    private const int Hidden = 512;
    private const int Experts = 4;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void QuantisedDispatchEqualsDispatchingTheHostCast(bool byBufferOption)
    {
        using var buffer = HostBuffers.Single(options: new EpBufferOptions { NormalInt8Quant = byBufferOption });
        Assert.Equal(byBufferOption, buffer.NormalInt8Quant);
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        using Int8Tensor cast = Int8Cast.PerTokenCast(x);
        using DispatchResult expected = routing.Dispatch(cast.Data, cast.Scales);
        using DispatchResult quantized = buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, useInt8Quant: byBufferOption ? null : true);

        Assert.Equal(DType.Int8, quantized.RecvX.DType);
        Assert.Equal(expected.RecvX.ToArray<sbyte>(), quantized.RecvX.ToArray<sbyte>());
        Assert.Equal(expected.RecvXScales!.ToArray<float>(), quantized.RecvXScales!.ToArray<float>());
        Assert.Equal([expected.RecvX.Size(0), 1], quantized.RecvXScales!.Shape.ToArray());
        Assert.Equal(expected.NumRecvTokensPerExpertList, quantized.NumRecvTokensPerExpertList);
        Assert.Contains(quantized.RecvX.ToArray<sbyte>(), q => q != 0);

        using DispatchResult cached = buffer.Dispatch(x, quantized.Handle!, useInt8Quant: byBufferOption ? null : true);
        Assert.Equal(expected.RecvX.ToArray<sbyte>(), cached.RecvX.ToArray<sbyte>());
        Assert.Equal(expected.RecvXScales!.ToArray<float>(), cached.RecvXScales!.ToArray<float>());
    }

    [Fact]
    public void ACallCanTurnTheBufferOptionOff()
    {
        using var buffer = HostBuffers.Single(options: new EpBufferOptions { NormalInt8Quant = true });
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult plain = buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, useInt8Quant: false);
        Assert.Equal(DType.BFloat16, plain.RecvX.DType);
        Assert.Null(plain.RecvXScales);
    }

    [Fact]
    public void QuantisingRowsThatAreNotBf16IsRefused()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        // The overloads with xScales take no useInt8Quant; FP8 rows through the BF16 overload lack their scales.
        using Fp8Tensor fp8 = Fp8Cast.PerTokenCast(x);
        HostBuffers.Throws<ArgumentException>("xScales",
            () => buffer.Dispatch(fp8.Data, routing.Layout, routing.TopkIdx, routing.TopkWeights, useInt8Quant: true));
    }

    [Fact]
    public void QuantisingRowsOfAnOddNumberOf8ChannelsIsRefused()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 24);
        var e = HostBuffers.Throws<ArgumentException>("useInt8Quant",
            () => buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, useInt8Quant: true));
        Assert.Contains("multiple of 16", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ExpertTokenNumsType.Counts, ExpertTokenNumsType.PrefixSums)]
    [InlineData(ExpertTokenNumsType.PrefixSums, ExpertTokenNumsType.Counts)]
    public void ACallOverridesTheBufferCountForm(ExpertTokenNumsType bufferForm, ExpertTokenNumsType callForm)
    {
        using var buffer = HostBuffers.Single(options: new EpBufferOptions { ExpertTokenNumsType = bufferForm });
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult byBuffer = routing.Dispatch(x);
        using DispatchResult byCall = buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, expertTokenNumsType: callForm);
        int[] counts = [.. (bufferForm == ExpertTokenNumsType.Counts ? byBuffer : byCall).NumRecvTokensPerExpertList];
        int[] sums = [.. (bufferForm == ExpertTokenNumsType.Counts ? byCall : byBuffer).NumRecvTokensPerExpertList];
        int total = 0;
        Assert.Equal(counts.Select(c => total += c), sums);
        Assert.NotEqual(counts, sums);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LowLatencyCountsBecomeTheirPrefixSums(bool hook)
    {
        using var buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts));
        using DeviceTensor x = DispatchArgumentTests.Random(5, Hidden);
        using DeviceTensor topk = HostBuffers.Topk([0, 1, 2, 3, 1, -1, 3, 0, 2, 1], 2);
        int[] counts;
        using (LowLatencyDispatchResult plain = buffer.LowLatencyDispatch(x, topk, N, Experts, returnRecvHook: hook))
        {
            plain.Hook?.Invoke();
            counts = plain.PackedRecvCount.ToArray<int>();
            plain.Handle.Dispose();
        }
        using LowLatencyDispatchResult summed = buffer.LowLatencyDispatch(x, topk, N, Experts, returnRecvHook: hook, expertTokenNumsType: ExpertTokenNumsType.PrefixSums);
        summed.Hook?.Invoke();
        int total = 0;
        Assert.Equal([2, 3, 2, 2], counts);
        Assert.Equal(counts.Select(c => total += c), summed.PackedRecvCount.ToArray<int>());
        summed.Handle.Dispose();
    }

    [Fact]
    public void AnUndefinedCountFormIsRefusedByName()
    {
        using var buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts));
        using DeviceTensor x = DispatchArgumentTests.Random(2, Hidden);
        using DeviceTensor topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        HostBuffers.Throws<ArgumentException>("expertTokenNumsType",
            () => buffer.LowLatencyDispatch(x, topk, N, Experts, expertTokenNumsType: (ExpertTokenNumsType)7));
    }
}
