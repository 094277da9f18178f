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
    private readonly int _device;
    private readonly int _numRanks;

    public LowLatencyResources(PeerMesh mesh, long bytes, bool shrink)
    {
        _device = mesh.Device;
        _numRanks = mesh.NumRanks;
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

    /// <summary>The layout of the latest operation (what <see cref="Describe"/> reads the signals with).</summary>
    public LowLatencyLayout? LastLayout { get; set; }

    /// <summary>
    /// This rank's epochs, mask and received signals, read back after a timeout (the kernels have given up, so the
    /// copies finish): tells a lost signal (a slot below its set's epoch) from a rank that never sent.
    /// </summary>
    public unsafe string Describe()
    {
        var control = new int[LowLatencyKernels.ControlBytes / sizeof(int)];
        fixed (int* c = control)
        {
            StagedHostCopy.ToHost(_device, (nint)c, Control, LowLatencyKernels.ControlBytes);
        }
        string state = $"This rank's set epochs [{control[0]}, {control[1]}], mask [{string.Join(", ", control.AsSpan(4, _numRanks).ToArray())}]";
        if (LastLayout is not LowLatencyLayout layout)
        {
            return state + ".";
        }
        var signals = new int[_numRanks];
        var sets = new string[LowLatencyLayout.NumSets];
        for (int set = 0; set < sets.Length; set++)
        {
            fixed (int* s = signals)
            {
                StagedHostCopy.ToHost(_device, (nint)s, Buffer.Local + (nint)layout.SignalOffset(set), _numRanks * sizeof(int));
            }
            sets[set] = $"set {set} [{string.Join(", ", signals)}]";
        }
        return $"{state}, signals received per source: {string.Join("; ", sets)}.";
    }

    public void Dispose()
    {
        Buffer.Dispose();
        _control.Dispose();
    }
}
