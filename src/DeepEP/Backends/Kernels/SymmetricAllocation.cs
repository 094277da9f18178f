using DeepEP.Cuda;
using DeepEP.Ep.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// One zeroed <c>cuMemAlloc</c> allocation of the same size on every rank, with every rank's copy addressable from this
/// device (<see cref="Peers"/>[r], <see cref="Peers"/>[own rank] being the local one). Made collectively by
/// <see cref="PeerMesh.AllocateSymmetric"/>; disposed collectively with the mesh or by its owner.
/// </summary>
internal sealed class SymmetricAllocation : IDisposable
{
    private readonly DeviceMemory _local;

    public SymmetricAllocation(DeviceMemory local, PeerArray<nint> peers)
    {
        _local = local;
        Peers = peers;
    }

    /// <summary>This rank's copy.</summary>
    public nint Local => _local.Pointer;

    /// <summary>Bytes on each rank.</summary>
    public long Bytes => _local.Bytes;

    /// <summary>Every rank's copy, as addressed from this device.</summary>
    public PeerArray<nint> Peers { get; }

    public void Dispose() => _local.Dispose();
}
