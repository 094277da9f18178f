using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::LowLatencyCombineParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LowLatencyCombineParams
{
    public PeerArray<nint> Buffers;
    public nint X;
    public nint SrcInfo;
    public nint LayoutRange;
    public nint TopkIdx;
    public nint TopkWeights;
    public nint CombinedX;
    public nint CombineWaitRecvCostStats;
    public nint Control;
    public nint Diagnostics;
    public long XExpertStride;
    public long XRowStride;
    public long SignalOffset;
    public long RecvOffset;
    public ulong TimeoutNs;
    public int NumTokens;
    public int NumMaxTokens;
    public int NumTopk;
    public int NumExperts;
    public int Rank;
    public int NumRanks;
    public int Set;
    public int Shrink;
}

/// <summary>
/// Launches the low-latency combine kernels (<c>impls/low_latency_combine.cuh</c>), specialised on H and on the row
/// format: BF16, or LogFMT-10 (<c>logfmt</c>: slots of <c>LogFmt10.MaxBytes(H)</c> bytes, which is
/// <see cref="LowLatencyLayout.CombineMessageBytes"/>, so the receive area holds them).
/// </summary>
internal static class LowLatencyCombineRuntime
{
    private const string Header = "deep_ep/impls/low_latency_combine.cuh";

    /// <summary>The send phase: one block per local expert (looping beyond two per SM).</summary>
    public static void LaunchSend(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine_send", hidden, logfmt, p.NumExperts / p.NumRanks, cooperative: false, p);

    /// <summary>The receive phase: one block per token (looping beyond two per SM), at least one block so it always waits.</summary>
    public static void LaunchRecv(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine_recv", hidden, logfmt, p.NumTokens, cooperative: false, p);

    /// <summary>Both phases in one cooperative launch (no hook): a grid that covers both roles and is resident at once.</summary>
    public static void Launch(int device, GpuShare share, CudaStream stream, int hidden, bool logfmt, in LowLatencyCombineParams p) =>
        Launch(device, share, stream, "low_latency_combine", hidden, logfmt, Math.Max(p.NumTokens, p.NumExperts / p.NumRanks), cooperative: share.Cooperative, p);

    private static void Launch(int device, GpuShare share, CudaStream stream, string kernelName, int hidden, bool logfmt, int wanted, bool cooperative, in LowLatencyCombineParams p)
    {
        string expression = string.Create(CultureInfo.InvariantCulture, $"deep_ep::{kernelName}<{hidden}, {(logfmt ? "true" : "false")}>");
        CudaKernel kernel = KernelLoader.Get(device, Header, expression);
        kernel.Launch(new KernelLaunchConfig(LowLatencyKernels.Grid(kernel, wanted, share), KernelLimits.LowLatencyThreads, Stream: stream, Cooperative: cooperative), p);
    }
}
