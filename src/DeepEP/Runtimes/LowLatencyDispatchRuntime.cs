using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::LowLatencyDispatchParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LowLatencyDispatchParams
{
    public LowLatencyCall Call;
    public nint X;
    public nint TopkIdx;
    public nint PackedRecvX;
    public nint PackedRecvXScales;
    public nint PackedRecvCount;
    public nint PackedRecvSrcInfo;
    public nint PackedRecvLayoutRange;
    public nint CumulativeLocalExpertRecvStats;
    public nint DispatchWaitRecvCostStats;
    public long SourceStride;
}

/// <summary>Launches the low-latency dispatch kernels (<c>impls/low_latency_dispatch.cuh</c>), specialised on H and the FP8 options.</summary>
internal static class LowLatencyDispatchRuntime
{
    private const string Header = "deep_ep/impls/low_latency_dispatch.cuh";

    private static readonly KernelTemplate<(int Hidden, bool Fp8, bool RoundScale)> Send =
        new(a => string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_dispatch_send<{a.Hidden}, {Bool(a.Fp8)}, {Bool(a.RoundScale)}>"));

    private static readonly KernelTemplate<(int Hidden, bool Fp8, bool Ue8m0)> Recv =
        new(a => string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_dispatch_recv<{a.Hidden}, {Bool(a.Fp8)}, {Bool(a.Ue8m0)}>"));

    private static readonly KernelTemplate<(int Hidden, bool Fp8, bool RoundScale, bool Ue8m0)> Both =
        new(a => string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_dispatch<{a.Hidden}, {Bool(a.Fp8)}, {Bool(a.RoundScale)}, {Bool(a.Ue8m0)}>"));

    /// <summary>The send phase: a (token, 128-channel group) task per warp, at least one block so it always signals.</summary>
    public static void LaunchSend(int device, GpuShare share, CudaStream stream, int hidden, bool useFp8, bool roundScale, in LowLatencyDispatchParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, Header, Send.Expression((hidden, useFp8, roundScale)));
        kernel.Launch(new KernelLaunchConfig(LowLatencyKernels.Grid(kernel, SendBlocks(p, hidden), share), KernelLimits.LowLatencyThreads, Stream: stream), p);
    }

    /// <summary>
    /// The receive phase: the whole resident grid, a block per local expert or an expert's rows split over several blocks
    /// when there are fewer experts than blocks; R*N ints of shared memory.
    /// </summary>
    public static void LaunchRecv(int device, GpuShare share, CudaStream stream, int hidden, bool useFp8, bool useUe8m0, in LowLatencyDispatchParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, Header, Recv.Expression((hidden, useFp8, useUe8m0)));
        int shared = p.Call.NumRanks * p.Call.NumMaxTokens * sizeof(int);
        kernel.Launch(new KernelLaunchConfig(LowLatencyKernels.FullGrid(kernel, share, shared), KernelLimits.LowLatencyThreads, shared, stream), p);
    }

    /// <summary>Both phases in one cooperative launch (no hook): a grid that covers both roles and is resident at once.</summary>
    public static void Launch(int device, GpuShare share, CudaStream stream, int hidden, bool useFp8, bool roundScale, bool useUe8m0, in LowLatencyDispatchParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, Header, Both.Expression((hidden, useFp8, roundScale, useUe8m0)));
        int shared = p.Call.NumRanks * p.Call.NumMaxTokens * sizeof(int);
        int blocks = LowLatencyKernels.Grid(kernel, Math.Max(SendBlocks(p, hidden), p.Call.NumExperts / p.Call.NumRanks), share, shared);
        kernel.Launch(new KernelLaunchConfig(blocks, KernelLimits.LowLatencyThreads, shared, stream, Cooperative: share.Cooperative), p);
    }

    // Blocks that give every warp one (token, group) task.
    private static long SendBlocks(in LowLatencyDispatchParams p, int hidden) =>
        ((long)p.Call.NumTokens * (hidden / Fp8Cast.ChannelsPerScale) + KernelLimits.LowLatencyWarps - 1) / KernelLimits.LowLatencyWarps;

    private static string Bool(bool value) => value ? "true" : "false";
}
