using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::LowLatencyCombineParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LowLatencyCombineParams
{
    public LowLatencyCall Call;
    public nint X;
    public nint SrcInfo;
    public nint LayoutRange;
    public nint TopkIdx;
    public nint TopkWeights;
    public nint CombinedX;
    public nint CombineWaitRecvCostStats;
    public long XExpertStride;
    public long XRowStride;
}

/// <summary>
/// Launches the low-latency combine kernels (<c>impls/low_latency_combine.cuh</c>), specialised on H and on the row
/// format: BF16, or LogFMT-10 (<c>logfmt</c>: slots of <c>LogFmt10.MaxBytes(H)</c> bytes, which is
/// <see cref="LowLatencyLayout.CombineMessageBytes"/>, so the receive area holds them).
/// </summary>
internal static class LowLatencyCombineRuntime
{
    private const string Header = "deep_ep/impls/low_latency_combine.cuh";

    private static readonly KernelTemplate<(string Kernel, int Hidden, bool Logfmt)> Expressions =
        new(a => string.Create(CultureInfo.InvariantCulture, $"deep_ep::{a.Kernel}<{a.Hidden}, {(a.Logfmt ? "true" : "false")}>"));

    /// <summary>The send phase: (expert, row, chunk) items over every warp of the grid (LogFMT-10: a block per local expert).</summary>
    public static void LaunchSend(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine_send", hidden, logfmt, cooperative: false, p);

    /// <summary>The receive phase: a block per token, or a token's words over several blocks when there are fewer tokens than blocks.</summary>
    public static void LaunchRecv(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine_recv", hidden, logfmt, cooperative: false, p);

    /// <summary>Both phases in one cooperative launch (no hook), resident at once.</summary>
    public static void Launch(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine", hidden, logfmt, cooperative: share.Cooperative, p);

    // Every kernel takes the whole resident grid: both phases spread their work over however many blocks there are.
    private static void Launch(int device, GpuShare share, CudaStream stream, string kernelName, int hidden, bool logfmt, bool cooperative, in LowLatencyCombineParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, Header, Expressions.Expression((kernelName, hidden, logfmt)));
        kernel.Launch(new KernelLaunchConfig(LowLatencyKernels.FullGrid(kernel, share), KernelLimits.LowLatencyThreads, Stream: stream, Cooperative: cooperative), p);
    }
}
