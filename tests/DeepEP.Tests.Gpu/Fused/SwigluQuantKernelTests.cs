using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// The fused MoE layer's activation casts (through the public <see cref="MoeKernels.SwigluQuant"/>, which launches <see cref="SwigluQuantRuntime"/>) against the host functions the reference
/// uses (<c>HostExpertFfn</c>'s SwiGLU, <see cref="Int8Cast.CastRow"/>, <see cref="Fp8Cast.CastRow"/>). The cast of
/// dispatched BF16 rows is bit for bit the host's. After SwiGLU the GPU's expf may differ from MathF.Exp by an ulp,
/// which can move h by one BF16 ulp: at most 1 % of values may differ, each by at most one step of its format. Outputs
/// start as 0xFF bytes; rows past each expert's count must keep them.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class SwigluQuantKernelTests(GpuFixture gpu)
{
    private const int Rows = 40;
    private static readonly int[] s_counts = [0, 1, 17, 40];

    public static TheoryData<string, bool, int> Cases => new()
    {
        { nameof(QuantFormat.Int8), false, 384 },
        { nameof(QuantFormat.Fp8), false, 1280 },
        { nameof(QuantFormat.Bf16), true, 384 },
        { nameof(QuantFormat.Bf16), true, 1280 },
        { nameof(QuantFormat.Int8), true, 384 },
        { nameof(QuantFormat.Int8), true, 1280 },
        { nameof(QuantFormat.Fp8), true, 384 },
        { nameof(QuantFormat.Fp8), true, 1280 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValidRowsMatchTheHostCastsAndOthersAreUntouched(string formatName, bool swiglu, int width)
    {
        gpu.Require();
        QuantFormat format = Enum.Parse<QuantFormat>(formatName);
        int experts = s_counts.Length;
        var random = new Random(HashCode.Combine(formatName, swiglu, width));
        long rows = (long)experts * Rows;
        // The host's input rows h (BF16): SwiGLU of random gate | up, or random BF16 rows.
        var source = new float[rows * (swiglu ? 2 * width : width)];
        for (int i = 0; i < source.Length; i++)
        {
            float v = (float)((random.NextDouble() * 8) - 4);
            source[i] = swiglu ? v : BFloat16.FromFloat(v).ToFloat();
        }
        using DeviceTensor x = swiglu
            ? DeviceTensor.FromArray<float>(source, [experts, Rows, 2 * width], 0)
            : DeviceTensor.FromArray<BFloat16>([.. source.Select(BFloat16.FromFloat)], [experts, Rows, width], 0);
        using DeviceTensor counts = DeviceTensor.FromArray<int>(s_counts, [experts], 0);
        using DeviceTensor q = DeviceTensor.Empty(format.ElementType(), [experts, Rows, width], 0);
        long[]? scalesShape = format.ActivationScalesShape(experts, Rows, width);
        using DeviceTensor? scales = scalesShape is null ? null : DeviceTensor.Empty(DType.Float32, scalesShape, 0);
        q.FillBytes(0xFF);
        scales?.FillBytes(0xFF);
        CudaStream stream = CudaStream.ForDevice(0);
        MoeKernels.SwigluQuant(x, counts, q, scales, stream);
        stream.Synchronize();

        byte[] gotQ = q.ToArray<byte>();
        float[] gotScales = scales?.ToArray<float>() ?? [];
        int elementSize = format == QuantFormat.Bf16 ? 2 : 1;
        int scalesPerRow = gotScales.Length / (int)rows;
        int compared = 0, differing = 0;
        for (int e = 0; e < experts; e++)
        {
            for (int m = 0; m < Rows; m++)
            {
                long row = ((long)e * Rows) + m;
                ReadOnlySpan<byte> rowBytes = gotQ.AsSpan((int)(row * width * elementSize), width * elementSize);
                ReadOnlySpan<float> rowScales = gotScales.AsSpan((int)(row * scalesPerRow), scalesPerRow);
                if (m >= s_counts[e])
                {
                    Assert.True(rowBytes.IndexOfAnyExcept((byte)0xFF) < 0, $"expert {e} row {m} is past its count but was written.");
                    Assert.All(rowScales.ToArray(), s => Assert.Equal(0xFFFFFFFFu, BitConverter.SingleToUInt32Bits(s)));
                    continue;
                }
                BFloat16[] h = HostRow(source, row, width, swiglu);
                differing += CompareRow(format, h, rowBytes, rowScales, $"expert {e} row {m}");
                compared += width;
            }
        }
        if (!swiglu)
        {
            Assert.Equal(0, differing);
        }
        Assert.True(differing <= compared / 100, $"{differing} of {compared} values differ from the host's.");
    }

    // HostExpertFfn's h = bf16(silu(gate) · up), or the BF16 row itself.
    private static BFloat16[] HostRow(float[] source, long row, int width, bool swiglu)
    {
        var h = new BFloat16[width];
        for (int i = 0; i < width; i++)
        {
            if (swiglu)
            {
                float gate = source[(row * 2 * width) + i], up = source[(row * 2 * width) + width + i];
                h[i] = BFloat16.FromFloat(gate / (1f + MathF.Exp(-gate)) * up);
            }
            else
            {
                h[i] = BFloat16.FromFloat(source[(row * width) + i]);
            }
        }
        return h;
    }

    // The number of values that differ from the host's cast of h; each may differ by one step of the format at most.
    private static int CompareRow(QuantFormat format, BFloat16[] h, ReadOnlySpan<byte> got, ReadOnlySpan<float> gotScales, string where)
    {
        int width = h.Length, differing = 0;
        switch (format)
        {
            case QuantFormat.Bf16:
                for (int i = 0; i < width; i++)
                {
                    int bits = BitConverter.ToUInt16(got.Slice(2 * i, 2));
                    int delta = Math.Abs(bits - h[i].Bits);
                    Assert.True(delta <= 1, $"{where} channel {i}: BF16 bits {bits:X4}, host {h[i].Bits:X4}.");
                    differing += delta == 0 ? 0 : 1;
                }
                break;
            case QuantFormat.Int8:
                var codes = new sbyte[width];
                float scale = Int8Cast.CastRow(h, codes);
                Assert.True(Math.Abs(gotScales[0] - scale) <= scale / 128, $"{where}: scale {gotScales[0]}, host {scale}.");
                for (int i = 0; i < width; i++)
                {
                    int delta = Math.Abs((sbyte)got[i] - codes[i]);
                    Assert.True(delta <= 1, $"{where} channel {i}: code {(sbyte)got[i]}, host {codes[i]}.");
                    differing += delta == 0 ? 0 : 1;
                }
                break;
            default:
                var fp8 = new Float8E4M3[width];
                var scaleInv = new float[width / Fp8Cast.ChannelsPerScale];
                Fp8Cast.CastRow(h, fp8, scaleInv, roundScale: false);
                for (int g = 0; g < scaleInv.Length; g++)
                {
                    Assert.True(Math.Abs(gotScales[g] - scaleInv[g]) <= scaleInv[g] / 128, $"{where} group {g}: scale {gotScales[g]}, host {scaleInv[g]}.");
                }
                for (int i = 0; i < width; i++)
                {
                    float mine = new Float8E4M3(got[i]).ToFloat(), host = fp8[i].ToFloat();
                    // One E4M3 step: an eighth of the value in the normal range, 2^-9 below it.
                    Assert.True(Math.Abs(mine - host) <= Math.Max(Math.Abs(host) / 8, 1f / 512), $"{where} channel {i}: {mine}, host {host}.");
                    differing += got[i] == fp8[i].Bits ? 0 : 1;
                }
                break;
        }
        return differing;
    }
}
