using DeepEP.Cuda;
using DeepEP.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// What low-latency mode owns on the kernels backend: the symmetric buffer every rank's kernels write into, this
/// rank's control block (set epochs, send-block counters, the rank mask), and the set tracking for hooks.
/// </summary>
internal sealed class LowLatencyResources : IDisposable
{
    private readonly DeviceMemory _control;

    public LowLatencyResources(PeerMesh mesh, long bytes, bool shrink)
    {
        Buffer = mesh.AllocateSymmetric(bytes);
        _control = DeviceMemory.Allocate(mesh.Device, LowLatencyKernels.ControlBytes);
        DeviceMemory.Fill(mesh.Device, _control.Pointer, 0, LowLatencyKernels.ControlBytes, stream: null);
        CudaStream.ForDevice(mesh.Device).Synchronize();
        Shrink = shrink;
    }

    public SymmetricAllocation Buffer { get; }

    /// <summary>This rank's <c>LowLatencyControl</c>.</summary>
    public nint Control => _control.Pointer;

    /// <summary>The <c>[R]</c> Int32 mask inside the control block.</summary>
    public nint Mask => _control.Pointer + LowLatencyKernels.MaskOffset;

    public bool Shrink { get; }

    public LowLatencyBufferSets Sets { get; } = new();

    public void Dispose()
    {
        Buffer.Dispose();
        _control.Dispose();
    }
}
