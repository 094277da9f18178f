using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

public sealed class CombineArgumentTests
{
    private static (EpBuffer Buffer, DispatchResult Result, DispatchArgumentTests.Routing Routing) Dispatched()
    {
        EpBuffer buffer = HostBuffers.Single();
        var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        return (buffer, routing.Dispatch(x), routing);
    }

    [Fact]
    public void CombineTakesBf16Only()
    {
        var (buffer, result, _) = Dispatched();
        using var fp8 = HostBuffers.Zeros(DType.Float8E4M3, result.RecvX.Size(0), 128);
        var e = HostBuffers.Throws<ArgumentException>("x", () => buffer.Combine(fp8, result.Handle!));
        Assert.Contains("BF16 only", e.Message);
    }

    [Fact]
    public void CombineRowsMustMatchTheHandle()
    {
        var (buffer, result, _) = Dispatched();
        using var x = HostBuffers.Zeros(DType.BFloat16, result.RecvX.Size(0) + 1, 128);
        HostBuffers.Throws<ArgumentException>("x", () => buffer.Combine(x, result.Handle!));
    }

    [Fact]
    public void AtMostTwoBiasTensors()
    {
        var (buffer, result, _) = Dispatched();
        using var bias = HostBuffers.Zeros(DType.BFloat16, 4, 128);
        HostBuffers.Throws<ArgumentException>("bias", () => buffer.Combine(result.RecvX, result.Handle!, bias: [bias, bias, bias]));
    }

    [Fact]
    public void BiasMustBeIndexedByOriginalToken()
    {
        var (buffer, result, _) = Dispatched();
        using var bias = HostBuffers.Zeros(DType.BFloat16, result.RecvX.Size(0) + 5, 128);
        HostBuffers.Throws<ArgumentException>("bias[0]", () => buffer.Combine(result.RecvX, result.Handle!, bias: [bias]));
    }

    [Fact]
    public void WeightsMustMatchTheReceivedRows()
    {
        var (buffer, result, _) = Dispatched();
        using var weights = HostBuffers.Zeros(DType.Float32, result.RecvX.Size(0) + 1, 2);
        HostBuffers.Throws<ArgumentException>("topkWeights", () => buffer.Combine(result.RecvX, result.Handle!, topkWeights: weights));
    }

    [Fact]
    public void CombineNeedsTheDispatchSmCount()
    {
        var (buffer, result, _) = Dispatched();
        HostBuffers.Throws<ArgumentException>("config", () => buffer.Combine(result.RecvX, result.Handle!, config: new EpConfig(numSms: 2)));
    }

    [Fact]
    public void HandleFromAnotherGroupSizeIsRejected()
    {
        var (_, result, _) = Dispatched();
        EpBuffer[] pair = HostBuffers.Create(2);
        HostBuffers.Throws<ArgumentException>("handle", () => pair[0].Combine(result.RecvX, result.Handle!, config: EpBuffer.GetDispatchConfig(1)));
    }
}
