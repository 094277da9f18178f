using DeepEP.Cuda;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// One zeroed <c>cuMemAlloc</c> allocation of the same size on every rank, with every rank's copy addressable from this
/// device (<see cref="Peers"/>[r], <see cref="Peers"/>[own rank] being the local one): through peer access for ranks in
/// this process, through CUDA IPC mappings (owned here, closed on dispose) for ranks in other processes. Made
/// collectively by <see cref="PeerMesh.AllocateSymmetric"/>; disposed collectively with the mesh or by its owner.
/// </summary>
internal sealed class SymmetricAllocation : IDisposable
{
    private readonly DeviceMemory _local;
    private readonly IReadOnlyList<IpcMemoryMapping> _mappings;

    public SymmetricAllocation(DeviceMemory local, PeerArray<nint> peers, PeerArray<long> deltas, IReadOnlyList<IpcMemoryMapping> mappings)
    {
        _local = local;
        _mappings = mappings;
        Peers = peers;
        Deltas = deltas;
    }

    /// <summary>This rank's copy.</summary>
    public nint Local => _local.Pointer;

    /// <summary>Bytes on each rank.</summary>
    public long Bytes => _local.Bytes;

    /// <summary>This rank's copy as a 1-D UInt8 device view of all <see cref="Bytes"/> bytes (freed with this allocation).</summary>
    public DeviceTensor LocalBytes() => DeviceTensor.BytesOf(_local, _local.Pointer, _local.Bytes, _local.Device);

    /// <summary>Every rank's copy, as addressed from this device.</summary>
    public PeerArray<nint> Peers { get; }

    /// <summary>
    /// Per rank r: <see cref="Peers"/>[r] minus the address r itself uses for its copy. Adding it turns a pointer into
    /// r's copy that r published into one valid here; 0 under peer access (one unified address space).
    /// </summary>
    public PeerArray<long> Deltas { get; }

    public void Dispose()
    {
        foreach (IpcMemoryMapping mapping in _mappings)
        {
            mapping.Dispose();
        }
        _local.Dispose();
    }
}
