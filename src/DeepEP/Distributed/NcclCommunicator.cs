using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Interop;
using static DeepEP.Distributed.NcclCheck;

namespace DeepEP.Distributed;

/// <summary>
/// One NCCL communicator over the ranks of a <see cref="ProcessGroup"/>, one GPU per rank. Creation and disposal are
/// collective: every rank calls them (concurrently, from its own thread or process).
/// </summary>
internal sealed class NcclCommunicator : IDisposable
{
    private readonly int _device;
    private nint _handle;

    private NcclCommunicator(int device, nint handle, int rank, int size)
    {
        _device = device;
        _handle = handle;
        Rank = rank;
        Size = size;
    }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>Rank 0 creates the unique id, the group broadcasts it, every rank joins on <paramref name="device"/>.</summary>
    public static NcclCommunicator Create(ProcessGroup group, int device)
    {
        EnsureLoaded();
        var id = new NcclUniqueId();
        if (group.Rank == 0)
        {
            Check(Nccl.ncclGetUniqueId(out id));
        }
        byte[] shared = group.Broadcast(MemoryMarshal.AsBytes(new[] { id }.AsSpan()).ToArray(), root: 0);
        id = MemoryMarshal.Read<NcclUniqueId>(shared);
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        Check(Nccl.ncclCommInitRank(out nint handle, group.Size, id, group.Rank));
        return new NcclCommunicator(device, handle, group.Rank, group.Size);
    }

    /// <summary>
    /// All-to-all of variable-sized blocks: <paramref name="sendCounts"/>[d] elements from <paramref name="send"/> (in
    /// rank order) to rank d, <paramref name="recvCounts"/>[s] elements from rank s into <paramref name="recv"/>.
    /// </summary>
    public void AllToAllV(nint send, IReadOnlyList<long> sendCounts, nint recv, IReadOnlyList<long> recvCounts, NcclDataType type, int elementSize, CudaStream stream)
    {
        using CudaContextScope scope = CudaDevice.Get(_device).Activate();
        Check(Nccl.ncclGroupStart());
        long sendOffset = 0, recvOffset = 0;
        for (int peer = 0; peer < Size; peer++)
        {
            Check(Nccl.ncclSend(send + (nint)(sendOffset * elementSize), (nuint)sendCounts[peer], type, peer, _handle, stream.Handle));
            Check(Nccl.ncclRecv(recv + (nint)(recvOffset * elementSize), (nuint)recvCounts[peer], type, peer, _handle, stream.Handle));
            sendOffset += sendCounts[peer];
            recvOffset += recvCounts[peer];
        }
        Check(Nccl.ncclGroupEnd());
    }

    /// <summary>Destroys the communicator (collective).</summary>
    public void Dispose()
    {
        if (_handle != 0)
        {
            using CudaContextScope scope = CudaDevice.Get(_device).Activate();
            Check(Nccl.ncclCommDestroy(_handle));
            _handle = 0;
        }
    }
}
