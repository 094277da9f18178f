using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::BarrierParams</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BarrierParams
{
    public PeerArray<nint> Headers;
    public nint Diagnostics;
    public nint Mask;
    public ulong TimeoutNs;
    public int Rank;
    public int NumRanks;
    public int Epoch;
    public int Reserved;
}

/// <summary>Launches the cross-rank stream barrier (<c>impls/rank_barrier.cuh</c>).</summary>
internal static class BarrierRuntime
{
    public static void Launch(int device, CudaStream stream, in BarrierParams p)
    {
        CudaKernel kernel = KernelLoader.Get(device, "deep_ep/impls/rank_barrier.cuh", "deep_ep::barrier");
        kernel.Launch(new KernelLaunchConfig(1, 32, Stream: stream), p);
    }
}
