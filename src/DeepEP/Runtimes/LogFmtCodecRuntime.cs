using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Jit;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::LogFmtCodecParams</c> (<c>impls/logfmt_codec.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LogFmtCodecParams
{
    public nint X;
    public nint Messages;
    public nint MessageBytes;
    public nint Decoded;
    public long MaxBytes;
    public int NumRows;
    public int Hidden;
}

/// <summary>
/// Host side of <c>impls/logfmt_codec.cuh</c>: LogFMT-10 rows encoded and decoded on the GPU, one block per row, bit
/// for bit <see cref="LogFmt10"/>. The kernels run the row code (<c>common/logfmt_row.cuh</c>) that the GPU backends'
/// low-latency combines run inside their send and receive phases, alone, so the GPU suite can check it against the
/// host codec.
/// </summary>
internal static class LogFmtCodecRuntime
{
    /// <summary>The largest hidden size the GPU row code handles.</summary>
    public const int MaxHidden = KernelLimits.LogFmtMaxGroups * LogFmt10.GroupChannels;

    private static readonly KernelProgram Program = KernelProgram.Create(
        "logfmt_codec", ["deep_ep/impls/logfmt_codec.cuh"], KernelDefines.All, ["deep_ep::logfmt_encode", "deep_ep::logfmt_decode"]);

    /// <summary>Bytes reserved per message: the raw row plus the meta (no message is longer), a multiple of 16.</summary>
    public static long MaxBytes(int hidden) => LogFmt10.MaxBytes(hidden);

    /// <summary>
    /// Whether the GPU row code handles <paramref name="hidden"/>: a multiple of 512 (<see cref="LogFmt10.Supports"/>) up
    /// to 128 × <see cref="KernelLimits.LogFmtMaxGroups"/> (its scratch in shared memory is sized for that).
    /// </summary>
    public static bool Supports(int hidden) => LogFmt10.Supports(hidden) && hidden <= MaxHidden;

    /// <summary>Refuses a GPU backend's LogFMT-10 combine of rows the row code does not handle (the facade has already required a multiple of 512).</summary>
    /// <exception cref="NotSupportedException"><paramref name="hidden"/> is past <see cref="MaxHidden"/>.</exception>
    public static void CheckCombineHidden(int hidden)
    {
        if (!Supports(hidden))
        {
            throw new NotSupportedException($"LogFMT-10 combine on the GPU backends handles hidden sizes up to {MaxHidden}, not {hidden}: pass useLogfmt: false.");
        }
    }

    /// <summary>Encodes the rows of <paramref name="x"/> (contiguous device BF16 <c>[T, H]</c>): UInt8 <c>[T, MaxBytes(H)]</c> messages and their Int32 <c>[T]</c> lengths.</summary>
    public static (DeviceTensor Messages, DeviceTensor Bytes) Encode(DeviceTensor x, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        int hidden = Validate(x.Rank == 2 ? x.Size(1) : 0, nameof(x));
        DeviceTensor messages = DeviceTensor.Empty(DType.UInt8, [x.Size(0), MaxBytes(hidden)], x.Device, stream);
        DeviceTensor bytes = DeviceTensor.Empty(DType.Int32, [x.Size(0)], x.Device, stream);
        EncodeInto(x, messages, bytes, stream);
        return (messages, bytes);
    }

    /// <summary><see cref="Encode"/> into existing tensors of the shapes it returns.</summary>
    public static void EncodeInto(DeviceTensor x, DeviceTensor messages, DeviceTensor bytes, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(bytes);
        if (x.IsHost || x.DType != DType.BFloat16 || x.Rank != 2 || !x.IsContiguous)
        {
            throw new ArgumentException($"x must be a contiguous device BFloat16 [T, H] tensor, not {x.Describe()}.", nameof(x));
        }
        int rows = checked((int)x.Size(0)), hidden = Validate(x.Size(1), nameof(x));
        KernelArguments.RequireContiguous(messages, x.Device, DType.UInt8, [rows, MaxBytes(hidden)], nameof(messages));
        KernelArguments.RequireContiguous(bytes, x.Device, DType.Int32, [rows], nameof(bytes));
        Launch(x.Device, "deep_ep::logfmt_encode", rows, stream, new LogFmtCodecParams
        {
            X = x.Pointer,
            Messages = messages.Pointer,
            MessageBytes = bytes.Pointer,
            MaxBytes = MaxBytes(hidden),
            NumRows = rows,
            Hidden = hidden,
        });
    }

    /// <summary>Decodes UInt8 <c>[T, MaxBytes(H)]</c> messages into Float32 <c>[T, H]</c> (<paramref name="decoded"/>).</summary>
    public static void DecodeInto(DeviceTensor messages, DeviceTensor decoded, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(decoded);
        int hidden = Validate(decoded.Rank == 2 ? decoded.Size(1) : 0, nameof(decoded));
        int rows = checked((int)decoded.Size(0));
        KernelArguments.RequireContiguous(messages, decoded.Device, DType.UInt8, [rows, MaxBytes(hidden)], nameof(messages));
        KernelArguments.RequireContiguous(decoded, messages.Device, DType.Float32, [rows, hidden], nameof(decoded));
        Launch(messages.Device, "deep_ep::logfmt_decode", rows, stream, new LogFmtCodecParams
        {
            Messages = messages.Pointer,
            Decoded = decoded.Pointer,
            MaxBytes = MaxBytes(hidden),
            NumRows = rows,
            Hidden = hidden,
        });
    }


    private static int Validate(long hidden, string argument)
    {
        if (!Supports(checked((int)hidden)))
        {
            throw new ArgumentException($"LogFMT-10 rows need a hidden size that is a multiple of 512 up to {MaxHidden}, not {hidden}.", argument);
        }
        return (int)hidden;
    }

    private static void Launch(int ordinal, string name, int rows, CudaStream? stream, LogFmtCodecParams parameters)
    {
        if (rows == 0)
        {
            return;
        }
        CudaDevice device = CudaDevice.Get(ordinal);
        CudaKernel kernel = KernelLoader.Get(ordinal, Program, name);
        kernel.Launch(new KernelLaunchConfig(Math.Min(rows, device.MultiprocessorCount * 8), KernelLimits.LogFmtThreads, Stream: stream), parameters);
    }
}
