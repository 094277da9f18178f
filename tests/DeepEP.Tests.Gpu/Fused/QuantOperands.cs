using System.Runtime.InteropServices;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Fused;

/// <summary>
/// Random <c>[E, rows, cols]</c> GEMM operands in one <see cref="QuantFormat"/>: the stored elements (raw bits), the
/// values they stand for (exact floats) and the Float32 scales, in the layouts of <c>docs/fused-moe.md</c>.
/// </summary>
internal sealed record QuantOperands(QuantFormat Format, long[] Shape, byte[] Bytes, float[] Values, float[] Scales, long[]? ScalesShape)
{
    /// <summary>Activations <c>[E, rows, k]</c>; rows at or past <paramref name="counts"/>[e] hold poison (NaN where the format has one, NaN scales).</summary>
    public static QuantOperands Activations(QuantFormat format, int experts, int rows, int k, int[] counts, Random random)
    {
        QuantOperands a = Create(format, [experts, rows, k], format.ActivationScalesShape(experts, rows, k), random);
        int scalesPerRow = a.ScalesShape is null ? 0 : a.Scales.Length / (experts * rows);
        int elementSize = format == QuantFormat.Bf16 ? 2 : 1;
        for (int e = 0; e < experts; e++)
        {
            for (int m = counts[e]; m < rows; m++)
            {
                long row = ((long)e * rows) + m;
                // 0xFFFF is a BF16 NaN, 0x7F an E4M3 NaN and INT8 127: a kernel that read these rows would show it.
                for (int b = 0; b < k * elementSize; b++)
                {
                    a.Bytes[(row * k * elementSize) + b] = format == QuantFormat.Bf16 ? (byte)0xFF : (byte)0x7F;
                }
                Array.Fill(a.Scales, float.NaN, (int)(row * scalesPerRow), scalesPerRow);
            }
        }
        return a;
    }

    /// <summary>Weights <c>[E, n, k]</c> with their per-channel (Int8) or per-block (Fp8) scales.</summary>
    public static QuantOperands Weights(QuantFormat format, int experts, int n, int k, Random random) =>
        Create(format, [experts, n, k], format.WeightScalesShape(experts, n, k), random);

    /// <summary>The stored elements on <paramref name="device"/>.</summary>
    public DeviceTensor DataTensor(int device) => Format == QuantFormat.Bf16
        ? DeviceTensor.FromArray<ushort>(MemoryMarshal.Cast<byte, ushort>(Bytes), Shape, device, DType.BFloat16)
        : DeviceTensor.FromArray<byte>(Bytes, Shape, device, Format.ElementType());

    /// <summary>The scales on <paramref name="device"/>, or null for Bf16.</summary>
    public DeviceTensor? ScalesTensor(int device) => ScalesShape is null ? null : DeviceTensor.FromArray<float>(Scales, ScalesShape, device);

    private static QuantOperands Create(QuantFormat format, long[] shape, long[]? scalesShape, Random random)
    {
        long count = shape[0] * shape[1] * shape[2];
        int elementSize = format == QuantFormat.Bf16 ? 2 : 1;
        var bytes = new byte[count * elementSize];
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            switch (format)
            {
                case QuantFormat.Bf16:
                    BFloat16 bf16 = BFloat16.FromFloat((float)gaussian);
                    BitConverter.TryWriteBytes(bytes.AsSpan((int)(i * 2), 2), bf16.Bits);
                    values[i] = bf16.ToFloat();
                    break;
                case QuantFormat.Int8:
                    sbyte code = (sbyte)random.Next(-127, 128);
                    bytes[i] = (byte)code;
                    values[i] = code;
                    break;
                default:
                    Float8E4M3 fp8 = Float8E4M3.FromFloat((float)(gaussian * 64));
                    bytes[i] = fp8.Bits;
                    values[i] = fp8.ToFloat();
                    break;
            }
        }
        float[] scales = scalesShape is null ? [] : new float[scalesShape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)((random.NextDouble() * 0.015) + 0.005);
        }
        return new QuantOperands(format, shape, bytes, values, scales, scalesShape);
    }
}
