using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// The fused MoE layer's masked grouped GEMM alone (through the public <see cref="MoeKernels.GroupedGemm"/>, which launches <see cref="GroupedGemmRuntime"/>) against a float64 host
/// computation of the same arithmetic (<c>Backends/Host/HostLinear</c>: Int8 sum · row scale · column scale, Fp8 each
/// 128-wide block's sum · activation scale · weight block scale): random operands, per-expert counts of 0, 1, odd, a
/// whole tile, one past it and all rows; rows past the counts hold NaN (they must not be read) and the output starts as
/// 0xFF bytes (rows past the counts must keep them). K = 384 fills at most the pipeline's first stages; K = 1152 runs it
/// in its steady state. On Hopper the kernel is also compiled for plain sm_90, so its mma.sync path (the one other GPUs
/// run) is checked beside the wgmma path.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class GroupedGemmKernelTests(GpuFixture gpu)
{
    private const int Rows = 70;
    private const int N = 256;
    private static readonly int[] s_counts = [0, 37, 70, 1, 64, 65];

    public static TheoryData<string, bool, int, bool> Cases()
    {
        var cases = new TheoryData<string, bool, int, bool>();
        foreach (QuantFormat format in new[] { QuantFormat.Bf16, QuantFormat.Int8, QuantFormat.Fp8 })
        {
            foreach (bool mmaSync in new[] { false, true })
            {
                cases.Add(format.ToString(), false, 384, mmaSync);
                cases.Add(format.ToString(), true, 384, mmaSync);
                cases.Add(format.ToString(), false, 1152, mmaSync);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValidRowsMatchTheHostAndOthersAreUntouched(string formatName, bool bf16Output, int k, bool mmaSync)
    {
        gpu.Require();
        string? architecture = null;
        if (mmaSync)
        {
            Assert.SkipUnless(EpBuffer.GetKernelArchitecture(0) == "sm_90a", "The device's own kernels are the mma.sync ones (no wgmma before Hopper).");
            architecture = "sm_90";
        }
        QuantFormat format = Enum.Parse<QuantFormat>(formatName);
        int experts = s_counts.Length;
        var random = new Random(HashCode.Combine(formatName, bf16Output, k));
        QuantOperands a = QuantOperands.Activations(format, experts, Rows, k, s_counts, random);
        QuantOperands b = QuantOperands.Weights(format, experts, N, k, random);

        using DeviceTensor aData = a.DataTensor(0), bData = b.DataTensor(0);
        using DeviceTensor? aScales = a.ScalesTensor(0), bScales = b.ScalesTensor(0);
        using DeviceTensor counts = DeviceTensor.FromArray<int>(s_counts, [experts], 0);
        DType outType = bf16Output ? DType.BFloat16 : DType.Float32;
        using DeviceTensor d = DeviceTensor.Empty(outType, [experts, Rows, N], 0);
        d.FillBytes(0xFF);
        CudaStream stream = CudaStream.ForDevice(0);
        if (architecture is null)
        {
            MoeKernels.GroupedGemm(aData, aScales, bData, bScales, counts, d, stream);
        }
        else
        {
            GroupedGemmRuntime.Launch(format, aData, aScales, bData, bScales, counts, d, stream, architecture);
        }
        stream.Synchronize();

        // Hopper's E4M3 wgmma keeps about 14 bits while it sums a 128-wide block (DeepSeek-V3 report, §3.3.2; the kernel
        // promotes to fp32 between blocks, as DeepGEMM does): a few 2^-14 of the block's Σ|terms|. Elsewhere fp32 sums.
        bool wgmmaFp8 = format == QuantFormat.Fp8 && architecture is null && EpBuffer.GetKernelArchitecture(0) == "sm_90a";
        double relative = wgmmaFp8 ? 1e-3 : 1e-5;
        float[] got = bf16Output ? [.. d.ToArray<BFloat16>().Select(v => v.ToFloat())] : d.ToArray<float>();
        byte[] raw = d.ToArray<byte>();
        int elementSize = bf16Output ? 2 : 4;
        for (int e = 0; e < experts; e++)
        {
            for (int m = 0; m < Rows; m++)
            {
                long first = (((long)e * Rows) + m) * N;
                if (m >= s_counts[e])
                {
                    Assert.True(raw.AsSpan((int)(first * elementSize), N * elementSize).IndexOfAnyExcept((byte)0xFF) < 0,
                        $"{formatName}: expert {e} row {m} is past its count {s_counts[e]} but was written.");
                    continue;
                }
                for (int col = 0; col < N; col++)
                {
                    (double want, double magnitude) = Expected(format, a, b, e, m, col, k);
                    double tolerance = (relative * magnitude) + (bf16Output ? Math.Abs(want) / 256 : 0) + 1e-30;
                    double value = got[first + col];
                    Assert.True(Math.Abs(value - want) <= tolerance,
                        $"{formatName} (K {k}, {architecture ?? "the device's architecture"}): expert {e} row {m} column {col}: got {value}, want {want} (tolerance {tolerance:E2}).");
                }
            }
        }
    }

    // The reference value of d[e, m, col] and Σ|terms| (the scale of its rounding error), in float64.
    private static (double Value, double Magnitude) Expected(QuantFormat format, QuantOperands a, QuantOperands b, int e, int m, int col, int k)
    {
        long aRow = (((long)e * Rows) + m) * k;
        long bRow = (((long)e * N) + col) * k;
        int blocks = k / Fp8Cast.ChannelsPerScale;
        double value = 0, magnitude = 0;
        for (int block = 0; block < blocks; block++)
        {
            double sum = 0, abs = 0;
            for (int i = block * Fp8Cast.ChannelsPerScale; i < (block + 1) * Fp8Cast.ChannelsPerScale; i++)
            {
                double product = (double)a.Values[aRow + i] * b.Values[bRow + i];
                sum += product;
                abs += Math.Abs(product);
            }
            double scale = format switch
            {
                QuantFormat.Int8 => (double)a.Scales[((long)e * Rows) + m] * b.Scales[((long)e * N) + col],
                QuantFormat.Fp8 => (double)a.Scales[((((long)e * Rows) + m) * blocks) + block]
                    * b.Scales[((((long)e * (N / Fp8Cast.ChannelsPerScale)) + (col / Fp8Cast.ChannelsPerScale)) * blocks) + block],
                _ => 1,
            };
            value += sum * scale;
            magnitude += abs * scale;
        }
        return (value, magnitude);
    }
}
