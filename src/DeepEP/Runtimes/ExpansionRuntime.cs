using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Jit;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::ExpansionParams</c> (<c>impls/expert_expansion.cuh</c>); each kernel reads the fields the header names.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExpansionParams
{
    public nint RecvTopkIdx;
    public nint RecvTopkWeights;
    public nint RecvX;
    public nint RecvXScales;
    public nint Counts;
    public nint Psum;
    public nint SrcRowSlot;
    public nint ExpandedRowOf;
    public nint ExpandedX;
    public nint ExpandedXScales;
    public nint ExpandedWeights;
    public nint CombineX;
    public nint ReducedX;
    public nint FoldedWeights;
    public long RowBytes;
    public long ScaleBytes;
    public int NumRows;
    public int NumTopk;
    public int NumLocalExperts;
    public int Alignment;
    public int Capacity;
    public int Hidden;
    public int ZeroPadding;
    public int Reserved;
}

/// <summary>
/// Host side of <c>impls/expert_expansion.cuh</c>: V2's expanded layout on the GPU, bit for bit
/// <c>Backends.Host.HostExpansion</c>. Every call only queues work on the given stream; the caller has validated the
/// tensors (contiguous, on one device, rows a multiple of 16 bytes).
/// </summary>
internal static class ExpansionRuntime
{
    private static readonly KernelProgram Program = KernelProgram.Create(
        "expert_expansion", ["deep_ep/impls/expert_expansion.cuh"], KernelDefines.All,
        ["deep_ep::expansion_count", "deep_ep::expansion_place", "deep_ep::expansion_copy", "deep_ep::expansion_reduce"]);

    /// <summary>Counts, aligned prefix sums and every row's position (<see cref="ExpansionParams"/>: top-k, counts, psum, src, row-of, sizes).</summary>
    public static void Place(int device, CudaStream stream, ExpansionParams p)
    {
        Launch(device, "deep_ep::expansion_count", 1, stream, p);
        Launch(device, "deep_ep::expansion_place", p.NumLocalExperts, stream, p);
    }

    /// <summary>Copies rows, scales and weights into the expanded layout.</summary>
    public static void Copy(int device, CudaStream stream, ExpansionParams p)
    {
        if (p.Capacity > 0)
        {
            int warpsPerBlock = KernelLimits.ExpansionThreads / 32;
            Launch(device, "deep_ep::expansion_copy", Math.Min((p.Capacity + warpsPerBlock - 1) / warpsPerBlock, Sms(device) * 4), stream, p);
        }
    }

    /// <summary>Sums each received row's expanded copies (combine) and folds the expanded weights back to <c>[M, K]</c>.</summary>
    public static void Reduce(int device, CudaStream stream, ExpansionParams p)
    {
        if (p.NumRows > 0)
        {
            Launch(device, "deep_ep::expansion_reduce", Math.Min(p.NumRows, Sms(device) * 4), stream, p);
        }
    }

    private static int Sms(int device) => CudaDevice.Get(device).MultiprocessorCount;

    private static void Launch(int ordinal, string name, int blocks, CudaStream stream, ExpansionParams parameters)
    {
        KernelLoader.Get(ordinal, Program, name).Launch(new KernelLaunchConfig(blocks, KernelLimits.ExpansionThreads, Stream: stream), parameters);
    }
}
