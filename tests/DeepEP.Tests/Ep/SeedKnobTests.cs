using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>
/// The DeepEP-Ascend/SGLang knobs that act in the EpBuffer facade (issue 15): per-expert counts or their prefix sums
/// (MOE_EXPERT_TOKEN_NUMS_TYPE) and BF16 low-latency dispatch (SGLANG_DEEPEP_BF16_DISPATCH), with their variables' parsing.
/// </summary>
public sealed class SeedKnobTests
{
    private const int N = 8;
    private const int Hidden = 512;
    private const int Experts = 4;

    [Fact]
    public void CountsAreTheDefault()
    {
        using var buffer = HostBuffers.Single();
        Assert.Equal(ExpertTokenNumsType.Counts, buffer.ExpertTokenNumsType);
        Assert.False(buffer.Bf16Dispatch);
        Assert.False(buffer.DebugMode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void PrefixSumsAreTheInclusiveSumsOfTheCounts(int expertAlignment)
    {
        int[] counts = DispatchCounts(ExpertTokenNumsType.Counts, expertAlignment);
        int[] sums = DispatchCounts(ExpertTokenNumsType.PrefixSums, expertAlignment);
        Assert.Equal(8, counts.Length);
        Assert.Contains(counts, c => c > 0);
        int total = 0;
        Assert.Equal(counts.Select(c => total += c), sums);
    }

    [Fact]
    public void WorstTokenDispatchKeepsItsEmptyList()
    {
        using var buffer = HostBuffers.Single(options: new EpBufferOptions { ExpertTokenNumsType = ExpertTokenNumsType.PrefixSums });
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult result = routing.Dispatch(x, numWorstTokens: 8);
        Assert.Empty(result.NumRecvTokensPerExpertList);
    }

    [Fact]
    public void UndefinedExpertTokenNumsTypeIsRejected()
    {
        using ProcessGroup group = ProcessGroup.CreateInProcess(1)[0];
        var options = new EpBufferOptions { Backend = EpBackendKind.Host, ExpertTokenNumsType = (ExpertTokenNumsType)2 };
        var e = Assert.ThrowsAny<ArgumentException>(() => new EpBuffer(group, HostBuffers.NvlBytes, options: options));
        Assert.Contains("ExpertTokenNumsType", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Bf16DispatchEqualsAnExplicitBf16Dispatch(bool roundScale, bool useUe8m0)
    {
        using var forced = LowLatencyBuffer(new EpBufferOptions { Bf16Dispatch = true });
        using var plain = LowLatencyBuffer(null);
        using var x = DispatchArgumentTests.Random(5, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3, 1, -1, 3, 0, 2, 1], 2);
        LowLatencyDispatchResult asked = forced.LowLatencyDispatch(x, topk, N, Experts, useFp8: true, roundScale: roundScale, useUe8m0: useUe8m0);
        LowLatencyDispatchResult expected = plain.LowLatencyDispatch(x, topk, N, Experts, useFp8: false);
        Assert.Equal(DType.BFloat16, asked.PackedRecvX.DType);
        Assert.Null(asked.PackedRecvXScales);
        Assert.Equal(expected.PackedRecvX.Shape.ToArray(), asked.PackedRecvX.Shape.ToArray());
        int[] counts = expected.PackedRecvCount.ToArray<int>();
        Assert.Equal(counts, asked.PackedRecvCount.ToArray<int>());
        Assert.Equal(expected.Handle.PackedRecvLayoutRange.ToArray<long>(), asked.Handle.PackedRecvLayoutRange.ToArray<long>());
        // Only the first counts[e] rows of expert e are defined (spec §5.3); those must match bit for bit.
        ushort[] expectedX = expected.PackedRecvX.ToArray<ushort>(), askedX = asked.PackedRecvX.ToArray<ushort>();
        int[] expectedSrc = expected.Handle.PackedRecvSrcInfo.ToArray<int>(), askedSrc = asked.Handle.PackedRecvSrcInfo.ToArray<int>();
        for (int e = 0; e < counts.Length; e++)
        {
            Assert.Equal(expectedSrc.AsSpan(e * N, counts[e]), askedSrc.AsSpan(e * N, counts[e]));
            Assert.Equal(expectedX.AsSpan(e * N * Hidden, counts[e] * Hidden), askedX.AsSpan(e * N * Hidden, counts[e] * Hidden));
        }
        Assert.Contains(counts, c => c > 0);
    }

    [Fact]
    public void Bf16DispatchStillChecksTheArgumentsAsGiven()
    {
        using var forced = LowLatencyBuffer(new EpBufferOptions { Bf16Dispatch = true });
        using var x = DispatchArgumentTests.Random(2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        HostBuffers.Throws<ArgumentException>("useUe8m0", () => forced.LowLatencyDispatch(x, topk, N, Experts, useFp8: true, useUe8m0: true));
    }

    [Fact]
    public void WithoutTheKnobFp8IsSent()
    {
        using var buffer = LowLatencyBuffer(new EpBufferOptions { Bf16Dispatch = false });
        using var x = DispatchArgumentTests.Random(2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        Assert.Equal(DType.Float8E4M3, buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: true).PackedRecvX.DType);
    }

    [Theory]
    [InlineData("0", ExpertTokenNumsType.PrefixSums)]
    [InlineData("1", ExpertTokenNumsType.Counts)]
    [InlineData(" 1 ", ExpertTokenNumsType.Counts)]
    public void ExpertTokenNumsTypeVariableParses(string value, ExpertTokenNumsType expected) =>
        Assert.Equal(expected, Environment(EpEnvironment.ExpertTokenNumsTypeVariable, value).ExpertTokenNumsType);

    [Theory]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void Bf16DispatchVariableParses(string value, bool expected) =>
        Assert.Equal(expected, Environment(EpEnvironment.Bf16DispatchVariable, value).Bf16Dispatch);

    [Theory]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void NormalInt8QuantVariableParses(string value, bool expected) =>
        Assert.Equal(expected, Environment(EpEnvironment.NormalInt8QuantVariable, value).NormalInt8Quant);

    [Theory]
    [InlineData("ON", true)]
    [InlineData("on", true)]
    [InlineData("Off", false)]
    public void DebugModeVariableParses(string value, bool expected) =>
        Assert.Equal(expected, Environment(EpEnvironment.DebugModeVariable, value).DebugMode);

    [Fact]
    public void UnsetKnobsAreNull()
    {
        EpEnvironment environment = EpEnvironment.FromVariables(new Dictionary<string, string>());
        Assert.Null(environment.ExpertTokenNumsType);
        Assert.Null(environment.Bf16Dispatch);
        Assert.Null(environment.DebugMode);
        Assert.Null(environment.NormalInt8Quant);
    }

    [Theory]
    [InlineData(EpEnvironment.ExpertTokenNumsTypeVariable, "2", "1 (per-expert counts")]
    [InlineData(EpEnvironment.Bf16DispatchVariable, "true", "1 (low-latency dispatch sends BF16")]
    [InlineData(EpEnvironment.DebugModeVariable, "1", "ON (log every buffer operation")]
    [InlineData(EpEnvironment.NormalInt8QuantVariable, "yes", "1 (normal dispatch quantises BF16 rows to INT8")]
    public void BadValuesNameTheVariableAndTheValidValues(string name, string value, string valid)
    {
        EpEnvironment environment = Environment(name, value);
        var e = Assert.Throws<InvalidOperationException>(() => name switch
        {
            EpEnvironment.ExpertTokenNumsTypeVariable => (object?)environment.ExpertTokenNumsType,
            EpEnvironment.Bf16DispatchVariable => environment.Bf16Dispatch,
            EpEnvironment.NormalInt8QuantVariable => environment.NormalInt8Quant,
            _ => environment.DebugMode,
        });
        Assert.Contains($"{name}='{value}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(valid, e.Message, StringComparison.Ordinal);
    }

    private static EpEnvironment Environment(string name, string value) =>
        EpEnvironment.FromVariables(new Dictionary<string, string> { [name] = value });

    private static EpBuffer LowLatencyBuffer(EpBufferOptions? options) =>
        HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts), options: options);

    private static int[] DispatchCounts(ExpertTokenNumsType type, int expertAlignment)
    {
        using var buffer = HostBuffers.Single(options: new EpBufferOptions { ExpertTokenNumsType = type });
        Assert.Equal(type, buffer.ExpertTokenNumsType);
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult result = routing.Dispatch(x, expertAlignment: expertAlignment);
        return [.. result.NumRecvTokensPerExpertList];
    }
}
