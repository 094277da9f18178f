using System.Globalization;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Ep.Runtimes;

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

/// <summary>Launches the low-latency combine kernels (<c>impls/low_latency_combine.cuh</c>), specialised on H.</summary>
internal static class LowLatencyCombineRuntime
{
    private const string Header = "deep_ep/impls/low_latency_combine.cuh";

    /// <summary>The send phase: one block per local expert (looping beyond two per SM).</summary>
    public static void LaunchSend(int device, CudaStream stream, int hidden, in LowLatencyCombineParams p)
    {
        string expression = string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_combine_send<{hidden}>");
        int blocks = Math.Clamp(p.NumExperts / p.NumRanks, 1, LowLatencyKernels.BlocksPerSm * CudaDevice.Get(device).MultiprocessorCount);
        KernelLoader.Get(device, Header, expression).Launch(new KernelLaunchConfig(blocks, LowLatencyKernels.ThreadsPerBlock, Stream: stream), p);
    }

    /// <summary>The receive phase: one block per token (looping beyond two per SM), at least one block so it always waits.</summary>
    public static void LaunchRecv(int device, CudaStream stream, int hidden, in LowLatencyCombineParams p)
    {
        string expression = string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_combine_recv<{hidden}>");
        int blocks = Math.Clamp(p.NumTokens, 1, LowLatencyKernels.BlocksPerSm * CudaDevice.Get(device).MultiprocessorCount);
        KernelLoader.Get(device, Header, expression).Launch(new KernelLaunchConfig(blocks, LowLatencyKernels.ThreadsPerBlock, Stream: stream), p);
    }

    /// <summary>Both phases in one cooperative launch (no hook): a grid that covers both roles and is resident at once.</summary>
    public static void Launch(int device, CudaStream stream, int hidden, in LowLatencyCombineParams p)
    {
        string expression = string.Create(CultureInfo.InvariantCulture, $"deep_ep::low_latency_combine<{hidden}>");
        int blocks = Math.Clamp(Math.Max(p.NumTokens, p.NumExperts / p.NumRanks), 1, LowLatencyKernels.BlocksPerSm * CudaDevice.Get(device).MultiprocessorCount);
        KernelLoader.Get(device, Header, expression).Launch(new KernelLaunchConfig(blocks, LowLatencyKernels.ThreadsPerBlock, Stream: stream, Cooperative: true), p);
    }
}
