using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>Every bad argument of <see cref="EpBuffer.FusedDeepMoe"/> is an exception naming it, before any exchange (one rank, host backend).</summary>
public sealed class FusedMoeArgumentTests
{
    private const int N = 4;
    private const int Hidden = 256;
    private const int Intermediate = 128;
    private const int Experts = 4;

    [Fact]
    public void NeedsLowLatencyMode()
    {
        using var buffer = HostBuffers.Single();
        Inputs a = Inputs.Valid();
        Assert.Throws<InvalidOperationException>(() => a.Call(buffer));
    }

    [Fact]
    public void XMustBeBf16() => Expect("x", a => a with { X = HostBuffers.Zeros(DType.Float32, 2, Hidden) });

    [Fact]
    public void HiddenMustBeAMultipleOf128() => Expect("x", a => a with { X = HostBuffers.Zeros(DType.BFloat16, 2, 192) }, "multiple of 128");

    [Fact]
    public void TokensMustFitTheCapacity() => Expect("x", a => a with
    {
        X = HostBuffers.Zeros(DType.BFloat16, N + 1, Hidden),
        TopkIdx = HostBuffers.Topk(new long[(N + 1) * 2], 2),
        TopkWeights = HostBuffers.Zeros(DType.Float32, N + 1, 2),
    }, "numMaxDispatchTokensPerRank");

    [Fact]
    public void CapacityMustBePositive() => Expect("numMaxDispatchTokensPerRank", a => a with { N = 0 });

    [Fact]
    public void BufferMustHoldTheWorstCase() => Expect("numMaxDispatchTokensPerRank", a => a with { N = 8 * N }, "GetLowLatencyRdmaSizeHint");

    [Fact]
    public void ExpertCountMustDivideAmongTheRanks()
    {
        EpBuffer[] buffers = HostBuffers.Create(2, nvlBytes: 0, rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 2, 6));
        Inputs a = Inputs.Valid();
        HostBuffers.Throws<ArgumentException>("numExperts", () => (a with { E = 3 }).Call(buffers[0]));
        foreach (EpBuffer buffer in buffers)
        {
            buffer.Dispose();
        }
    }

    [Fact]
    public void TopkIdxMustBeInt64() => Expect("topkIdx", a => a with { TopkIdx = HostBuffers.Zeros(DType.Int32, 2, 2) });

    [Fact]
    public void TopkIdxMustHaveOneRowPerToken() => Expect("topkIdx", a => a with { TopkIdx = HostBuffers.Topk([0, 1], 2) });

    [Fact]
    public void TopkWeightsMustMatchTopkIdx() => Expect("topkWeights", a => a with { TopkWeights = HostBuffers.Zeros(DType.Float32, 2, 3) });

    [Fact]
    public void ExpertIdsMustBeInRange() => Expect("topkIdx", a => a with { TopkIdx = HostBuffers.Topk([0, Experts, 1, 2], 2) }, "not an expert id");

    [Fact]
    public void ATokenMaySelectAnExpertOnlyOnce() => Expect("topkIdx", a => a with { TopkIdx = HostBuffers.Topk([1, 1, -1, -1], 2) }, "twice");

    [Fact]
    public void WeightsAreRequired() => Expect<ArgumentNullException>("weights", a => a with { Weights = null! });

    [Fact]
    public void WeightsMustHoldThisRanksExperts() => Expect("weights", a => a with { Weights = Weights(Experts - 1, Hidden) }, "per rank");

    [Fact]
    public void WeightsMustMatchTheHiddenSize() => Expect("weights", a => a with { Weights = Weights(Experts, 2 * Hidden) }, "H = 512");

    [Fact]
    public void DisposedWeightsAreRefused()
    {
        MoeExpertWeights disposed = Weights(Experts, Hidden);
        disposed.Dispose();
        Expect<ObjectDisposedException>("weights", a => a with { Weights = disposed });
    }

    [Fact]
    public void WeightsMustStartOn16ByteBoundaries()
    {
        // W1 two bytes into a larger block: the right shape, but not where the GEMMs' 16-byte loads can read it.
        using DeviceTensor block = HostBuffers.Zeros(DType.BFloat16, (Experts * 2 * Intermediate * Hidden) + 8);
        DeviceTensor shifted = DeviceTensor.FromPointer(block.Pointer + 2, [Experts, 2 * Intermediate, Hidden], DType.BFloat16, DeviceTensor.HostDevice);
        MoeExpertWeights misaligned = MoeExpertWeights.Bf16(shifted, HostBuffers.Zeros(DType.BFloat16, Experts, Hidden, Intermediate));
        Expect("weights", a => a with { Weights = misaligned }, "16-byte boundary");
    }

    [Fact]
    public void ModeMustBeDefined() => Expect("mode", a => a with { Mode = (FuseMode)7 });

    private static MoeExpertWeights Weights(int experts, int hidden) => MoeExpertWeights.Bf16(
        HostBuffers.Zeros(DType.BFloat16, experts, 2 * Intermediate, hidden), HostBuffers.Zeros(DType.BFloat16, experts, hidden, Intermediate));

    private static void Expect(string paramName, Func<Inputs, Inputs> change, string? message = null) => Expect<ArgumentException>(paramName, change, message);

    private static void Expect<T>(string paramName, Func<Inputs, Inputs> change, string? message = null)
        where T : Exception
    {
        using EpBuffer buffer = HostBuffers.Single(nvlBytes: 0, rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts));
        Inputs bad = change(Inputs.Valid());
        T e = Assert.Throws<T>(() => bad.Call(buffer));
        Assert.Equal(paramName, e is ArgumentException argument ? argument.ParamName : ((ObjectDisposedException)(object)e).ObjectName);
        if (message is not null)
        {
            Assert.Contains(message, e.Message);
        }
    }

    // Two tokens, two slots, four BF16 experts (H = 256, I = 128) on one rank: a valid call to vary one argument at a time.
    private sealed record Inputs(DeviceTensor X, DeviceTensor TopkIdx, DeviceTensor TopkWeights, MoeExpertWeights Weights, int N, int E, FuseMode Mode)
    {
        public static Inputs Valid() => new(
            HostBuffers.Zeros(DType.BFloat16, 2, Hidden),
            HostBuffers.Topk([0, 3, 2, -1], 2),
            HostBuffers.Zeros(DType.Float32, 2, 2),
            FusedMoeArgumentTests.Weights(Experts, Hidden),
            FusedMoeArgumentTests.N,
            Experts,
            FuseMode.FusedDeepMoe);

        public FusedMoeResult Call(EpBuffer buffer) => buffer.FusedDeepMoe(X, TopkIdx, TopkWeights, Weights, N, E, Mode);
    }
}
