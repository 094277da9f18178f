using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>
/// <see cref="MoeKernels"/>' checks, all made before anything is queued: every shape, dtype and scale rule is an
/// <see cref="ArgumentException"/> naming the argument (checked with host tensors: the rule that the tensors be on a GPU
/// comes last), a freed tensor is an <see cref="ObjectDisposedException"/> naming it.
/// </summary>
public sealed class MoeKernelsArgumentTests
{
    private const int E = 2;
    private const int Rows = 8;
    private const int K = 256;
    private const int N = 128;

    [Theory]
    [InlineData(DType.BFloat16)]
    [InlineData(DType.Int8)]
    [InlineData(DType.Float8E4M3)]
    public void ValidGemmArgumentsOnlyLackAGpu(DType dtype)
    {
        using Gemm g = Gemm.Valid(dtype);
        ArgumentException e = HostBuffers.Throws<ArgumentException>("a", g.Run);
        Assert.Contains("host memory", e.Message);
    }

    [Fact]
    public void GemmRequiresEveryTensor()
    {
        using Gemm g = Gemm.Valid(DType.BFloat16);
        HostBuffers.Throws<ArgumentNullException>("a", () => MoeKernels.GroupedGemm(null!, null, g.B, null, g.Counts, g.D));
        HostBuffers.Throws<ArgumentNullException>("counts", () => MoeKernels.GroupedGemm(g.A, null, g.B, null, null!, g.D));
    }

    [Fact]
    public void GemmActivationsNeedAQuantDtypeAndKMultipleOf128()
    {
        using Gemm f32 = Gemm.Valid(DType.BFloat16) with { A = Zeros(DType.Float32, E, Rows, K) };
        Assert.Contains("picks the number format", HostBuffers.Throws<ArgumentException>("a", f32.Run).Message);
        using Gemm odd = Gemm.Valid(DType.BFloat16) with { A = Zeros(DType.BFloat16, E, Rows, 192) };
        Assert.Contains("multiple of 128", HostBuffers.Throws<ArgumentException>("a", odd.Run).Message);
    }

    [Fact]
    public void GemmWeightsMustMatchTheActivations()
    {
        using Gemm dtype = Gemm.Valid(DType.Int8) with { B = Zeros(DType.Float8E4M3, E, N, K) };
        HostBuffers.Throws<ArgumentException>("b", dtype.Run);
        using Gemm experts = Gemm.Valid(DType.BFloat16) with { B = Zeros(DType.BFloat16, E + 1, N, K) };
        HostBuffers.Throws<ArgumentException>("b", experts.Run);
        using Gemm width = Gemm.Valid(DType.BFloat16) with { B = Zeros(DType.BFloat16, E, 96, K) };
        Assert.Contains("multiple of 64", HostBuffers.Throws<ArgumentException>("b", width.Run).Message);
    }

    [Fact]
    public void Fp8WeightsNeedWholeScaleBlocks()
    {
        using Gemm fp8 = Gemm.Valid(DType.Float8E4M3) with
        {
            B = Zeros(DType.Float8E4M3, E, 192, K),
            BScales = Zeros(DType.Float32, E, 1, K / 128),
            D = Zeros(DType.Float32, E, Rows, 192),
        };
        Assert.Contains("128 × 128 block", HostBuffers.Throws<ArgumentException>("b", fp8.Run).Message);
    }

    [Fact]
    public void GemmScalesFollowTheFormat()
    {
        using Gemm bf16 = Gemm.Valid(DType.BFloat16) with { AScales = Zeros(DType.Float32, E, Rows) };
        Assert.Contains("carry no scales", HostBuffers.Throws<ArgumentException>("aScales", bf16.Run).Message);
        using Gemm missing = Gemm.Valid(DType.Int8) with { BScales = null };
        Assert.Contains("is required", HostBuffers.Throws<ArgumentException>("bScales", missing.Run).Message);
        using Gemm perRow = Gemm.Valid(DType.Float8E4M3) with { AScales = Zeros(DType.Float32, E, Rows) };
        HostBuffers.Throws<ArgumentException>("aScales", perRow.Run);
    }

    [Fact]
    public void GemmCountsAndOutputHaveTheirShapes()
    {
        using Gemm counts = Gemm.Valid(DType.BFloat16) with { Counts = Zeros(DType.Int64, E) };
        HostBuffers.Throws<ArgumentException>("counts", counts.Run);
        using Gemm half = Gemm.Valid(DType.BFloat16) with { D = Zeros(DType.Float16, E, Rows, N) };
        HostBuffers.Throws<ArgumentException>("d", half.Run);
        using Gemm rows = Gemm.Valid(DType.BFloat16) with { D = Zeros(DType.Float32, E, Rows + 1, N) };
        HostBuffers.Throws<ArgumentException>("d", rows.Run);
    }

    [Fact]
    public void GemmRefusesFreedTensors()
    {
        using Gemm g = Gemm.Valid(DType.Int8);
        g.BScales!.Dispose();
        Assert.Equal("bScales", Assert.Throws<ObjectDisposedException>(g.Run).ObjectName);
    }

    [Theory]
    [InlineData(DType.BFloat16, DType.Int8)]
    [InlineData(DType.BFloat16, DType.Float8E4M3)]
    [InlineData(DType.Float32, DType.BFloat16)]
    [InlineData(DType.Float32, DType.Int8)]
    [InlineData(DType.Float32, DType.Float8E4M3)]
    public void ValidSwigluArgumentsOnlyLackAGpu(DType source, DType target)
    {
        using DeviceTensor x = Zeros(source, E, Rows, source == DType.Float32 ? 2 * K : K), counts = Zeros(DType.Int32, E), q = Zeros(target, E, Rows, K);
        using DeviceTensor? scales = ScalesFor(target);
        Assert.Contains("host memory", HostBuffers.Throws<ArgumentException>("x", () => MoeKernels.SwigluQuant(x, counts, q, scales)).Message);
    }

    [Fact]
    public void SwigluChecksEveryArgument()
    {
        using DeviceTensor bf16 = Zeros(DType.BFloat16, E, Rows, K), f32 = Zeros(DType.Float32, E, Rows, 2 * K), counts = Zeros(DType.Int32, E);
        using DeviceTensor int8 = Zeros(DType.Int8, E, Rows, K), bf16Q = Zeros(DType.BFloat16, E, Rows, K), int8Scales = Zeros(DType.Float32, E, Rows);
        using DeviceTensor f16 = Zeros(DType.Float16, E, Rows, K), narrow = Zeros(DType.Float32, E, Rows, K + 128), wrongRows = Zeros(DType.Int8, E, Rows + 1, K);
        HostBuffers.Throws<ArgumentException>("x", () => MoeKernels.SwigluQuant(f16, counts, int8, int8Scales));
        HostBuffers.Throws<ArgumentException>("x", () => MoeKernels.SwigluQuant(narrow, counts, int8, int8Scales));
        Assert.Contains("need no cast", HostBuffers.Throws<ArgumentException>("q", () => MoeKernels.SwigluQuant(bf16, counts, bf16Q, null)).Message);
        HostBuffers.Throws<ArgumentException>("q", () => MoeKernels.SwigluQuant(f32, counts, wrongRows, int8Scales));
        HostBuffers.Throws<ArgumentException>("counts", () => MoeKernels.SwigluQuant(f32, Zeros(DType.Int32, E + 1), int8, int8Scales));
        HostBuffers.Throws<ArgumentException>("scales", () => MoeKernels.SwigluQuant(f32, counts, int8, null));
        HostBuffers.Throws<ArgumentException>("scales", () => MoeKernels.SwigluQuant(f32, counts, bf16Q, int8Scales));
        HostBuffers.Throws<ArgumentNullException>("q", () => MoeKernels.SwigluQuant(f32, counts, null!, null));
        counts.Dispose();
        Assert.Equal("counts", Assert.Throws<ObjectDisposedException>(() => MoeKernels.SwigluQuant(f32, counts, int8, int8Scales)).ObjectName);
    }

    private static DeviceTensor? ScalesFor(DType dtype) => dtype switch
    {
        DType.Int8 => Zeros(DType.Float32, E, Rows),
        DType.Float8E4M3 => Zeros(DType.Float32, E, Rows, K / 128),
        _ => null,
    };

    private static DeviceTensor Zeros(DType dtype, params long[] shape) => DeviceTensor.Zeros(dtype, shape);

    // Valid host operands of one GEMM in one format; a test replaces one with a bad one.
    private sealed record Gemm(DeviceTensor A, DeviceTensor? AScales, DeviceTensor B, DeviceTensor? BScales, DeviceTensor Counts, DeviceTensor D) : IDisposable
    {
        public static Gemm Valid(DType dtype) => new(
            Zeros(dtype, E, Rows, K), ScalesFor(dtype),
            Zeros(dtype, E, N, K), dtype switch
            {
                DType.Int8 => Zeros(DType.Float32, E, N),
                DType.Float8E4M3 => Zeros(DType.Float32, E, N / 128, K / 128),
                _ => null,
            },
            Zeros(DType.Int32, E), Zeros(DType.Float32, E, Rows, N));

        public void Run() => MoeKernels.GroupedGemm(A, AScales, B, BScales, Counts, D);

        public void Dispose()
        {
            foreach (DeviceTensor? t in (DeviceTensor?[])[A, AScales, B, BScales, Counts, D])
            {
                t?.Dispose();
            }
        }
    }
}
