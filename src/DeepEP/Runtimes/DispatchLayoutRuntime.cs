using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::DispatchLayoutParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DispatchLayoutParams
{
    public nint TopkIdx;
    public nint NumTokensPerRank;
    public nint NumTokensPerExpert;
    public nint IsTokenInRank;
    public int NumTokens;
    public int NumTopk;
    public int NumExperts;
    public int NumRanks;
}

/// <summary>Twin of <c>deep_ep::ChannelLayoutParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ChannelLayoutParams
{
    public nint IsTokenInRank;
    public nint SendHead;
    public nint ChannelCounts;
    public int NumTokens;
    public int NumRanks;
    public int NumChannels;
    public int Reserved;
}

/// <summary>Launches the routing-layout kernels: <c>get_dispatch_layout</c> and <c>channel_layout</c>.</summary>
internal static class DispatchLayoutRuntime
{
    private const int LayoutThreads = 256;

    /// <summary>Counts must be zeroed on <paramref name="stream"/> before this launch.</summary>
    public static void LaunchLayout(int device, CudaStream stream, in DispatchLayoutParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/dispatch_layout.cuh", "deep_ep::get_dispatch_layout");
        int blocks = Math.Max(1, Math.Min((p.NumTokens + LayoutThreads - 1) / LayoutThreads, 1024));
        kernel.Launch(new KernelLaunchConfig(blocks, LayoutThreads, Stream: stream), p);
    }

    public static void LaunchChannelLayout(int device, CudaStream stream, in ChannelLayoutParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/channel_layout.cuh", "deep_ep::channel_layout");
        int warps = Math.Min(p.NumRanks, 8);
        kernel.Launch(new KernelLaunchConfig(p.NumChannels, warps * 32, Stream: stream), p);
    }
}
