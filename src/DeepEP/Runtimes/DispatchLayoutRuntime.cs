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
    // Up to this many tokens one block of OneBlockThreads counts in shared memory (a token per thread, at most two
    // rounds), which saves the fill that zeroes the counts for a larger grid.
    private const int OneBlockThreads = 1024;
    private const int OneBlockMaxTokens = 2 * OneBlockThreads;
    private const int OneBlockMaxSharedBytes = 48 * 1024;

    /// <summary>Whether <see cref="LaunchLayout"/> counts in one block's shared memory: then the counts need no zeroing before it.</summary>
    public static bool CountsInOneBlock(in DispatchLayoutParams p) =>
        p.NumTokens <= OneBlockMaxTokens && OneBlockSharedBytes(p) <= OneBlockMaxSharedBytes;

    /// <summary>Unless <see cref="CountsInOneBlock"/>, the counts must be zeroed on <paramref name="stream"/> before this launch.</summary>
    public static void LaunchLayout(int device, CudaStream stream, in DispatchLayoutParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/dispatch_layout.cuh", "deep_ep::get_dispatch_layout");
        KernelLaunchConfig config = CountsInOneBlock(p)
            ? new KernelLaunchConfig(1, OneBlockThreads, OneBlockSharedBytes(p), stream)
            : new KernelLaunchConfig(Math.Clamp((p.NumTokens + LayoutThreads - 1) / LayoutThreads, 1, 1024), LayoutThreads, Stream: stream);
        kernel.Launch(config, p);
    }

    private static int OneBlockSharedBytes(in DispatchLayoutParams p) => (p.NumRanks + p.NumExperts) * sizeof(int);

    public static void LaunchChannelLayout(int device, CudaStream stream, in ChannelLayoutParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/channel_layout.cuh", "deep_ep::channel_layout");
        int warps = Math.Min(p.NumRanks, 8);
        kernel.Launch(new KernelLaunchConfig(p.NumChannels, warps * 32, Stream: stream), p);
    }
}
