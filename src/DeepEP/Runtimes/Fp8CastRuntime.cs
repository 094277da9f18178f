using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Jit;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>
/// Host side of <c>deep_ep/impls/fp8_cast.cuh</c>: per-token, per-128-channel FP8 E4M3 cast of a BF16 <c>[T, H]</c>
/// device tensor, bit-exact with <see cref="Fp8Cast.PerTokenCast"/>. Specialised by NVRTC for each hidden size.
/// </summary>
internal static class Fp8CastRuntime
{
    private const string Include = "deep_ep/impls/fp8_cast.cuh";

    /// <summary>The kernel's single by-value argument; layout and size match <c>deep_ep::Fp8CastParams</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Parameters
    {
        /// <summary>BF16 input, <c>[NumTokens, XRowStride]</c>.</summary>
        public nint X;

        /// <summary>E4M3 output, <c>[NumTokens, H]</c> contiguous.</summary>
        public nint XFp8;

        /// <summary>Float32 <c>[NumTokens, H/128]</c>, or Int32 <c>[NumTokens, H/512]</c> with UE8M0.</summary>
        public nint XScales;

        /// <summary>Elements between rows of <see cref="X"/>.</summary>
        public long XRowStride;

        /// <summary>Rows.</summary>
        public int NumTokens;

        /// <summary>Padding; zero.</summary>
        public int Reserved;
    }

    /// <summary>The C++ name expression of one specialisation.</summary>
    public static string NameExpression(int hidden, bool roundScale, bool useUe8m0) =>
        string.Create(CultureInfo.InvariantCulture, $"deep_ep::fp8_cast<{hidden}, {Bool(roundScale)}, {Bool(useUe8m0)}>");

    /// <summary>The program for one specialisation.</summary>
    public static KernelProgram Generate(int hidden, bool roundScale, bool useUe8m0)
    {
        Validate(hidden, roundScale, useUe8m0);
        return KernelLoader.Program(Include, NameExpression(hidden, roundScale, useUe8m0));
    }

    /// <summary>Casts <paramref name="x"/> into new device tensors (allocated on <paramref name="stream"/>).</summary>
    /// <param name="x">BF16 <c>[T, H]</c> on a device, unit stride in H, H a multiple of 128 (512 with UE8M0).</param>
    /// <param name="roundScale">Round scales up to powers of two.</param>
    /// <param name="useUe8m0">Pack scales as UE8M0 exponent bytes, four per Int32 (requires <paramref name="roundScale"/>).</param>
    /// <param name="stream">The stream; the device's library stream when null.</param>
    public static Fp8Tensor Cast(DeviceTensor x, bool roundScale = false, bool useUe8m0 = false, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.IsHost)
        {
            throw new ArgumentException($"x must be a device BFloat16 [T, H] tensor, not {x.Describe()}.", nameof(x));
        }
        long tokens = x.Size(0);
        long hidden = x.Size(1);
        DeviceTensor data = DeviceTensor.Empty(DType.Float8E4M3, [tokens, hidden], x.Device, stream);
        DeviceTensor scales = useUe8m0
            ? DeviceTensor.Empty(DType.Int32, [tokens, hidden / (Fp8Cast.ChannelsPerScale * Fp8Cast.ScalesPerUe8m0Word)], x.Device, stream)
            : DeviceTensor.Empty(DType.Float32, [tokens, hidden / Fp8Cast.ChannelsPerScale], x.Device, stream);
        Launch(x, data, scales, roundScale, useUe8m0, stream);
        return new Fp8Tensor(data, scales);
    }

    /// <summary>Casts <paramref name="x"/> into existing tensors (shapes as <see cref="Cast"/> returns them), queued on <paramref name="stream"/>.</summary>
    public static void Launch(DeviceTensor x, DeviceTensor data, DeviceTensor scales, bool roundScale, bool useUe8m0, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(scales);
        if (x.IsHost || x.DType != DType.BFloat16 || x.Rank != 2 || x.Stride(1) != 1 || x.Stride(0) % 4 != 0 || x.Pointer % 8 != 0)
        {
            throw new ArgumentException($"x must be a device BFloat16 [T, H] tensor with unit channel stride, a row stride that is a multiple of 4 and 8-byte alignment, not {x.Describe()}.", nameof(x));
        }
        int tokens = checked((int)x.Size(0));
        int hidden = checked((int)x.Size(1));
        Validate(hidden, roundScale, useUe8m0);
        KernelArguments.RequireContiguous(data, x.Device, DType.Float8E4M3, [tokens, hidden], nameof(data));
        if (useUe8m0)
        {
            KernelArguments.RequireContiguous(scales, x.Device, DType.Int32, [tokens, hidden / (Fp8Cast.ChannelsPerScale * Fp8Cast.ScalesPerUe8m0Word)], nameof(scales));
        }
        else
        {
            KernelArguments.RequireContiguous(scales, x.Device, DType.Float32, [tokens, hidden / Fp8Cast.ChannelsPerScale], nameof(scales));
        }
        if (tokens == 0)
        {
            return;
        }
        CudaDevice device = CudaDevice.Get(x.Device);
        CudaKernel kernel = KernelLoader.Get(device.Ordinal, Include, NameExpression(hidden, roundScale, useUe8m0));
        long groups = (long)tokens * (hidden / Fp8Cast.ChannelsPerScale);
        int blocks = (int)Math.Min((groups + KernelLimits.Fp8CastWarps - 1) / KernelLimits.Fp8CastWarps, (long)device.MultiprocessorCount * 32);
        var parameters = new Parameters
        {
            X = x.Pointer,
            XFp8 = data.Pointer,
            XScales = scales.Pointer,
            XRowStride = x.Stride(0),
            NumTokens = tokens,
        };
        kernel.Launch(new KernelLaunchConfig(blocks, KernelLimits.Fp8CastWarps * 32, Stream: stream), parameters);
    }

    private static void Validate(int hidden, bool roundScale, bool useUe8m0)
    {
        if (useUe8m0 && !roundScale)
        {
            throw new ArgumentException("useUe8m0 requires roundScale: UE8M0 stores only power-of-two scales.", nameof(useUe8m0));
        }
        int alignment = useUe8m0 ? Fp8Cast.ChannelsPerScale * Fp8Cast.ScalesPerUe8m0Word : Fp8Cast.ChannelsPerScale;
        if (hidden <= 0 || hidden % alignment != 0)
        {
            throw new ArgumentException($"The hidden size {hidden} must be a positive multiple of {alignment}.", nameof(hidden));
        }
    }


    private static string Bool(bool value) => value ? "true" : "false";
}
