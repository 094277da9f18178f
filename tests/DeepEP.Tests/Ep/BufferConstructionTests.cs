using DeepEP.Distributed;
using DeepEP.Ep;

namespace DeepEP.Tests.Ep;

public sealed class BufferConstructionTests
{
    [Theory]
    [InlineData(100, 0, "numNvlBytes")]
    [InlineData(-128, 0, "numNvlBytes")]
    [InlineData(0, 130, "numRdmaBytes")]
    public void BufferSizesMustBeAlignedAndNonNegative(long nvl, long rdma, string name)
    {
        ProcessGroup group = ProcessGroup.CreateInProcess(1)[0];
        HostBuffers.Throws<ArgumentException>(name, () => new EpBuffer(group, nvl, rdma, options: new EpBufferOptions { Backend = EpBackendKind.Host }));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-2)]
    public void NumSmsMustBeEvenAndPositive(int sms) =>
        HostBuffers.Throws<ArgumentException>("numSms", () => EpBuffer.SetNumSms(sms));

    [Fact]
    public void ExplicitDestroyIsRequiredWhenAskedFor()
    {
        EpBuffer buffer = HostBuffers.Single(options: new EpBufferOptions { ExplicitlyDestroy = true });
        Assert.Throws<InvalidOperationException>(buffer.Dispose);
        buffer.Destroy();
        buffer.Dispose();
    }

    [Fact]
    public void ConfigRejectsSendChunksThatDoNotFitTheRing() =>
        Assert.Throws<ArgumentException>(() => new EpConfig(20, numMaxNvlChunkedSendTokens: 256, numMaxNvlChunkedRecvTokens: 256));

    [Fact]
    public void RdmaRingIsRoundedUpToTheSendChunkAsUpstreamDoes() =>
        Assert.Equal(132, new EpConfig(20, 6, 256, 6, 128).NumMaxRdmaChunkedRecvTokens);

    [Fact]
    public void LowLatencyHintMatchesTheSpecExample() =>
        Assert.Equal(2_146_961_792L, EpBuffer.GetLowLatencyRdmaSizeHint(128, 7168, 8, 288));

    [Fact]
    public void DefaultConfigsFollowTheTunedTable()
    {
        Assert.Equal(24, EpBuffer.GetDispatchConfig(2).NumMaxNvlChunkedSendTokens);
        Assert.Equal(4, EpBuffer.GetCombineConfig(8).NumMaxNvlChunkedSendTokens);
        Assert.Equal(EpBuffer.NumSms, EpBuffer.GetDispatchConfig(4).NumSms);
    }
}
