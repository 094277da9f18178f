using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>Shared-expert ranks: the variable's parsing, the option's precedence and every constraint's error.</summary>
public sealed class SharedExpertRankArgumentTests
{
    private const int Hidden = 128;

    [Theory]
    [InlineData("0", 0)]
    [InlineData("2", 2)]
    [InlineData(" 1 ", 1)]
    public void TheVariableParsesNonNegativeIntegers(string value, int expected) =>
        Assert.Equal(expected, EpEnvironment.FromVariables(new Dictionary<string, string> { [EpEnvironment.SharedExpertRankNumVariable] = value }).SharedExpertRankNum);

    [Theory]
    [InlineData("-1")]
    [InlineData("one")]
    [InlineData("1.5")]
    public void OtherValuesNameTheVariable(string value)
    {
        var environment = EpEnvironment.FromVariables(new Dictionary<string, string> { [EpEnvironment.SharedExpertRankNumVariable] = value });
        var e = Assert.Throws<InvalidOperationException>(() => environment.SharedExpertRankNum);
        Assert.Contains("MOE_SHARED_EXPERT_RANK_NUM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsetIsNullAndTheBufferDefaultsToZero()
    {
        Assert.Null(EpEnvironment.FromVariables(new Dictionary<string, string>()).SharedExpertRankNum);
        using EpBuffer buffer = HostBuffers.Single();
        Assert.Equal(0, buffer.SharedExpertRankNum);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TheOptionMustBeBelowTheGroupSize(int shared)
    {
        var e = Assert.Throws<AggregateException>(() => HostBuffers.Create(2, options: new EpBufferOptions { SharedExpertRankNum = shared }));
        var inner = Assert.IsType<ArgumentException>(e.InnerExceptions[0]);
        Assert.Equal("options.SharedExpertRankNum", inner.ParamName);
    }

    [Fact]
    public void TheExplicitOptionIsKept()
    {
        EpBuffer[] buffers = HostBuffers.Create(2, options: new EpBufferOptions { SharedExpertRankNum = 1 });
        Assert.All(buffers, b => Assert.Equal(1, b.SharedExpertRankNum));
        foreach (EpBuffer b in buffers)
        {
            b.Dispose();
        }
    }

    [Fact]
    public void RoutedExpertsMustDivideAmongTheRoutedRanks()
    {
        // R = 4, N = 1: 3 routed ranks; 8 experts do not divide.
        HostBuffers.Throws<ArgumentException>("numExperts", () => EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 4, 8, 1));
        HostBuffers.Throws<ArgumentException>("sharedExpertRankNum", () => EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 4, 9, 4));
        Assert.Equal(EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 4, 12), EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 4, 9, 1));
        DispatchThrows(EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 2, 2, 1), [0], 1, 0, "numExperts");
    }

    [Fact]
    public void TopkNeedsRoomForTheSharedColumn()
    {
        ArgumentException e = DispatchThrows(EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 2, EpBuffer.MaxTopk, 1),
            [.. Enumerable.Range(0, EpBuffer.MaxTopk).Select(i => (long)i)], EpBuffer.MaxTopk, EpBuffer.MaxTopk, "topkIdx");
        Assert.Contains("MOE_SHARED_EXPERT_RANK_NUM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RoutedIdsAreCheckedAgainstTheRoutedCount()
    {
        DispatchThrows(EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 2, 2, 1), [2], 1, 2, "topkIdx");
    }

    [Fact]
    public void TheBufferMustHoldThePaddedExperts()
    {
        // Sized for 2 experts without shared ranks; with N = 1 the backends move E' = 4.
        DispatchThrows(EpBuffer.GetLowLatencyRdmaSizeHint(4, Hidden, 2, 2), [0], 1, 2, "numMaxDispatchTokensPerRank");
    }

    /// <summary>
    /// One token with top-k <paramref name="ids"/> dispatched (N = 4) from rank 0 of a two-rank host group with one
    /// shared-expert rank must throw naming <paramref name="paramName"/> (checks throw before any collective).
    /// </summary>
    private static ArgumentException DispatchThrows(long rdmaBytes, long[] ids, int columns, int experts, string paramName)
    {
        EpBuffer[] buffers = HostBuffers.Create(2, rdmaBytes: rdmaBytes, options: new EpBufferOptions { SharedExpertRankNum = 1 });
        buffers[1].Dispose();
        using EpBuffer buffer = buffers[0];
        using DeviceTensor x = DeviceTensor.Zeros(DType.BFloat16, [1, Hidden]);
        using DeviceTensor topk = HostBuffers.Topk(ids, columns);
        return HostBuffers.Throws<ArgumentException>(paramName, () => buffer.LowLatencyDispatch(x, topk, 4, experts));
    }
}
