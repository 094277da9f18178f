using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

public sealed class DispatchArgumentTests
{
    private const int Tokens = 4;
    private const int Hidden = 128;
    private const int Experts = 8;

    [Fact]
    public void XMustBeBf16OrFp8()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.Float32, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("x", () => layout.Dispatch(x));
    }

    [Fact]
    public void Bf16RowsMustBeMultiplesOf16Bytes()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, 12);
        HostBuffers.Throws<ArgumentException>("x", () => layout.Dispatch(x));
    }

    [Fact]
    public void Fp8NeedsScales()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.Float8E4M3, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("xScales", () => layout.Dispatch(x));
    }

    [Fact]
    public void Int8NeedsFloat32Scales()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.Int8, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("xScales", () => layout.Dispatch(x));
        using var ue8m0 = HostBuffers.Zeros(DType.Int32, Tokens, 1);
        HostBuffers.Throws<ArgumentException>("xScales", () => layout.Dispatch(x, ue8m0));
        using var narrow = HostBuffers.Zeros(DType.Int8, Tokens, 8);
        using var scales = HostBuffers.Zeros(DType.Float32, Tokens, 1);
        HostBuffers.Throws<ArgumentException>("x", () => layout.Dispatch(narrow, scales));
    }

    [Fact]
    public void ScalesMustMatchTheTokenCount()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.Float8E4M3, Tokens, Hidden);
        using var scales = HostBuffers.Zeros(DType.Float32, Tokens + 1, 1);
        HostBuffers.Throws<ArgumentException>("xScales", () => layout.Dispatch(x, scales));
    }

    [Fact]
    public void ScalesAreOnlyForFp8()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        using var scales = HostBuffers.Zeros(DType.Float32, Tokens, 1);
        HostBuffers.Throws<ArgumentException>("xScales", () => layout.Dispatch(x, scales));
    }

    [Fact]
    public void TopkIdxAndWeightsGoTogether()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("topkWeights", () => buffer.Dispatch(x, layout.Layout, topkIdx: layout.TopkIdx));
    }

    [Fact]
    public void NumWorstTokensNeedsTopk()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("numWorstTokens", () => buffer.Dispatch(x, layout.Layout, numWorstTokens: 8));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, -1)]
    public void AlignmentAndWorstTokensMustBeInRange(int expertAlignment, int numWorstTokens)
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        string name = expertAlignment < 1 ? "expertAlignment" : "numWorstTokens";
        HostBuffers.Throws<ArgumentException>(name, () => layout.Dispatch(x, expertAlignment: expertAlignment, numWorstTokens: numWorstTokens));
    }

    [Fact]
    public void NullLayoutOrHandleIsNamed()
    {
        using var buffer = HostBuffers.Single();
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentNullException>("layout", () => buffer.Dispatch(x, (DispatchLayout)null!));
        HostBuffers.Throws<ArgumentNullException>("handle", () => buffer.Dispatch(x, (DispatchHandle)null!));
    }

    [Fact]
    public void PartialLayoutNamesTheMissingTensor()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentNullException>("layout.IsTokenInRank", () => buffer.Dispatch(x, layout.Layout with { IsTokenInRank = null! }));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void XWithAnotherRowCountThanTheLayoutNamesX(int extraRows)
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens + extraRows, Hidden);
        var e = HostBuffers.Throws<ArgumentException>("x", () => buffer.Dispatch(x, layout.Layout));
        Assert.Contains($"{Tokens + extraRows} rows", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{Tokens} tokens", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsTokenInRankNeedsOneColumnPerRank()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        using var wide = HostBuffers.Zeros(DType.Bool, Tokens, 2);
        HostBuffers.Throws<ArgumentException>("layout.IsTokenInRank", () => buffer.Dispatch(x, layout.Layout with { IsTokenInRank = wide }));
    }

    [Fact]
    public void NegativeExpertCountsAreRejected()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        int[] counts = layout.Layout.NumTokensPerExpert.ToArray<int>();
        counts[2] = -12;
        using var perExpert = DeviceTensor.FromArray<int>(counts, [Experts]);
        var e = HostBuffers.Throws<ArgumentException>("layout.NumTokensPerExpert", () => buffer.Dispatch(x, layout.Layout with { NumTokensPerExpert = perExpert },
            layout.TopkIdx, layout.TopkWeights));
        Assert.Contains("layout.NumTokensPerExpert[2] = -12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeRankCountsAreRejected()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        using var perRank = DeviceTensor.FromArray<int>([-3], [1]);
        var e = HostBuffers.Throws<ArgumentException>("layout.NumTokensPerRank", () => buffer.Dispatch(x, layout.Layout with { NumTokensPerRank = perRank }));
        Assert.Contains("negative", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InconsistentLayoutIsCaughtBeforeLaunch()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        using var wrongCounts = DeviceTensor.FromArray<int>([Tokens + 3], [1]);
        var e = HostBuffers.Throws<ArgumentException>("layout.NumTokensPerRank", () => buffer.Dispatch(x, layout.Layout with { NumTokensPerRank = wrongCounts }));
        Assert.Contains("GetDispatchLayout", e.Message);
    }

    [Fact]
    public void InternodeCountsAreRejectedWithinOneDomain()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("layout.NumTokensPerRdmaRank", () => buffer.Dispatch(x, layout.Layout with { NumTokensPerRdmaRank = layout.Layout.NumTokensPerRank }));
    }

    [Fact]
    public void TooSmallBufferIsRejected()
    {
        using var buffer = HostBuffers.Single(nvlBytes: 1024);
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        var e = HostBuffers.Throws<ArgumentException>("numNvlBytes", () => layout.Dispatch(x));
        Assert.Contains("GetNvlBufferSizeHint", e.Message);
    }

    [Fact]
    public void NvlSizeHintIsExactlyEnough()
    {
        long hint = EpBuffer.GetDispatchConfig(1).GetNvlBufferSizeHint(7168 * 2, 1);
        using (var buffer = HostBuffers.Single(nvlBytes: hint))
        using (var layout = new Routing(buffer))
        using (var x = Random(Tokens, Hidden))
        {
            using DispatchResult result = layout.Dispatch(x);
            using CombineResult combined = buffer.Combine(result.RecvX, result.Handle!);
            Assert.Equal(Tokens, combined.CombinedX.Size(0));
        }
        using var tooSmall = HostBuffers.Single(nvlBytes: hint - 128);
        using var routing = new Routing(tooSmall);
        using var y = Random(Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("numNvlBytes", () => routing.Dispatch(y));
    }

    [Fact]
    public void OddSmCountIsRejected()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = HostBuffers.Zeros(DType.BFloat16, Tokens, Hidden);
        HostBuffers.Throws<ArgumentException>("config", () => layout.Dispatch(x, config: new EpConfig(numSms: 3)));
    }

    [Fact]
    public void CachedDispatchNeedsTheHandlesSmCount()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = Random(Tokens, Hidden);
        DispatchResult first = layout.Dispatch(x, config: new EpConfig(numSms: 8));
        var e = HostBuffers.Throws<ArgumentException>("config", () => buffer.Dispatch(x, first.Handle!, config: new EpConfig(numSms: 10)));
        Assert.Contains("8 SMs", e.Message);
    }

    [Fact]
    public void CachedDispatchNeedsTheHandlesTokenCount()
    {
        using var buffer = HostBuffers.Single();
        using var layout = new Routing(buffer);
        using var x = Random(Tokens, Hidden);
        using var other = Random(Tokens - 1, Hidden);
        DispatchResult first = layout.Dispatch(x);
        HostBuffers.Throws<ArgumentException>("handle", () => buffer.Dispatch(other, first.Handle!));
    }

    internal static DeviceTensor Random(int tokens, int hidden)
    {
        var random = new Random(tokens * 31 + hidden);
        var values = new BFloat16[tokens * hidden];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BFloat16.FromFloat((float)(random.NextDouble() - 0.5));
        }
        return DeviceTensor.FromArray<BFloat16>(values, [tokens, hidden]);
    }

    /// <summary>A small valid routing of <see cref="Tokens"/> tokens on a one-rank buffer.</summary>
    internal sealed class Routing : IDisposable
    {
        private readonly EpBuffer _buffer;

        public Routing(EpBuffer buffer)
        {
            _buffer = buffer;
            TopkIdx = HostBuffers.Topk([0, 1, 2, -1, 3, 4, 5, 6], 2);
            TopkWeights = DeviceTensor.FromArray<float>([0.5f, 0.25f, 1f, 0f, 0.75f, 0.5f, 0.125f, 2f], [Tokens, 2]);
            Layout = buffer.GetDispatchLayout(TopkIdx, Experts);
        }

        public DeviceTensor TopkIdx { get; }

        public DeviceTensor TopkWeights { get; }

        public DispatchLayout Layout { get; }

        public DispatchResult Dispatch(DeviceTensor x, DeviceTensor? xScales = null, int expertAlignment = 1, int numWorstTokens = 0, EpConfig? config = null) =>
            _buffer.Dispatch(x, xScales, Layout, TopkIdx, TopkWeights, expertAlignment, numWorstTokens, config);

        public void Dispose()
        {
            TopkIdx.Dispose();
            TopkWeights.Dispose();
        }
    }
}
