using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Runtimes;

/// <summary>Twin of <c>deep_ep::InclusiveScanParams</c> (<c>impls/inclusive_scan.cuh</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InclusiveScanParams
{
    public nint Values;
    public int Count;
    public int Reserved;
}

/// <summary>
/// Host side of <c>impls/inclusive_scan.cuh</c>: replaces a device Int32 vector by its inclusive prefix sums, queued on
/// a stream (low-latency per-expert counts as DeepEP-Ascend's <c>MOE_EXPERT_TOKEN_NUMS_TYPE=0</c> gives them).
/// </summary>
internal static class InclusiveScanRuntime
{
    /// <summary>Queues the in-place scan of <paramref name="values"/> (a contiguous device Int32 vector) on <paramref name="stream"/>.</summary>
    public static void Launch(DeviceTensor values, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(stream);
        if (values.IsHost || values.DType != DType.Int32 || values.Rank != 1 || !values.IsContiguous)
        {
            throw new ArgumentException($"values must be a contiguous device Int32 vector, not {values.Describe()}.", nameof(values));
        }
        if (values.Size(0) == 0)
        {
            return;
        }
        CudaKernel kernel = KernelLoader.Get(values.Device, "deep_ep/impls/inclusive_scan.cuh", "deep_ep::inclusive_scan");
        kernel.Launch(new KernelLaunchConfig(1, 32, Stream: stream), new InclusiveScanParams { Values = values.Pointer, Count = checked((int)values.Size(0)) });
    }
}
