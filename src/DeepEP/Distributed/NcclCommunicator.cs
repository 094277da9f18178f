using System.Diagnostics;
using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Interop;
using static DeepEP.Distributed.NcclCheck;

namespace DeepEP.Distributed;

/// <summary>
/// One NCCL communicator over the ranks of a <see cref="ProcessGroup"/>, one GPU per rank. Creation and disposal are
/// collective: every rank calls them (concurrently, from its own thread or process). Communicators this class creates
/// are non-blocking, so every host wait (initialisation, connection set-up, completion) polls
/// <c>ncclCommGetAsyncError</c> against a deadline; on expiry or a peer's failure the communicator is aborted
/// (<c>ncclCommAbort</c>) and the exception names this rank and the step.
/// </summary>
internal sealed class NcclCommunicator : IDisposable
{
    private readonly int _device;
    private readonly bool _owned;
    private readonly Func<string, int, TimeSpan, Exception> _timeoutError;
    private nint _handle;
    private string? _abortedAt;

    private NcclCommunicator(int device, nint handle, int rank, int size, TimeSpan timeout, Func<string, int, TimeSpan, Exception> timeoutError, bool owned)
    {
        _timeoutError = timeoutError;
        _device = device;
        _handle = handle;
        Rank = rank;
        Size = size;
        Timeout = timeout;
        _owned = owned;
    }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>Deadline of every host wait on this communicator.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Rank 0 creates the unique id, the group broadcasts it, every rank joins on <paramref name="device"/> (non-blocking, bounded by <paramref name="timeout"/>).</summary>
    /// <param name="group">The ranks.</param>
    /// <param name="device">This rank's GPU.</param>
    /// <param name="timeout">Deadline of every host wait.</param>
    /// <param name="timeoutError">The exception thrown when a wait passes its deadline, given the step, this rank and the time waited (the layer above names its own type).</param>
    public static NcclCommunicator Create(ProcessGroup group, int device, TimeSpan timeout, Func<string, int, TimeSpan, Exception> timeoutError)
    {
        EnsureLoaded();
        var id = new NcclUniqueId();
        if (group.Rank == 0)
        {
            Check(Nccl.ncclGetUniqueId(out id));
        }
        byte[] shared = group.Broadcast(MemoryMarshal.AsBytes(new[] { id }.AsSpan()).ToArray(), root: 0, timeout);
        id = MemoryMarshal.Read<NcclUniqueId>(shared);
        nint handle;
        using (CudaDevice.Get(device).Activate())
        {
            Check(Nccl.ncclCommInitRankConfig(out handle, group.Size, id, group.Rank, NcclConfig.NonBlocking));
        }
        var communicator = new NcclCommunicator(device, handle, group.Rank, group.Size, timeout, timeoutError, owned: true);
        communicator.AwaitIdle("communicator initialisation");
        return communicator;
    }

    /// <summary>
    /// Wraps a communicator the caller created and keeps owning (<c>ncclComm_t</c>, e.g. from PyTorch's process group):
    /// it must span exactly <paramref name="group"/>'s ranks, in the same order, on <paramref name="device"/>. Dispose
    /// leaves it alive; an abort on a deadline still aborts it, as a hung communicator cannot be reused.
    /// </summary>
    /// <param name="handle">The caller's <c>ncclComm_t</c>.</param>
    /// <param name="group">The ranks.</param>
    /// <param name="device">This rank's GPU.</param>
    /// <param name="timeout">Deadline of every host wait.</param>
    /// <param name="timeoutError">As in <see cref="Create"/>.</param>
    public static NcclCommunicator Adopt(nint handle, ProcessGroup group, int device, TimeSpan timeout, Func<string, int, TimeSpan, Exception> timeoutError)
    {
        EnsureLoaded();
        if (handle == 0)
        {
            throw new ArgumentException("The NCCL communicator handle is null.", nameof(handle));
        }
        Check(Nccl.ncclCommCount(handle, out int count));
        Check(Nccl.ncclCommUserRank(handle, out int rank));
        Check(Nccl.ncclCommCuDevice(handle, out int commDevice));
        if (count != group.Size || rank != group.Rank || commDevice != device)
        {
            throw new ArgumentException(
                $"The NCCL communicator has rank {rank} of {count} on cuda:{commDevice}; this buffer is rank {group.Rank} of {group.Size} on cuda:{device}.", nameof(handle));
        }
        return new NcclCommunicator(device, handle, rank, count, timeout, timeoutError, owned: false);
    }

    /// <summary>Gathers <paramref name="bytes"/> from every rank into <paramref name="recv"/> (rank order) on <paramref name="stream"/>.</summary>
    public void AllGather(nint send, nint recv, long bytes, CudaStream stream, string step)
    {
        nint handle = Live(step);
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclAllGather(send, recv, (nuint)bytes, NcclDataType.UInt8, handle, stream.Handle));
        }
        AwaitIdle(step);
    }

    /// <summary>
    /// Enqueues every transfer on <paramref name="stream"/> as one NCCL group. Transfers to and from the same peer are
    /// matched in the order given, so both sides must list them in the same order; zero-byte transfers are skipped.
    /// </summary>
    public void SendReceive(IReadOnlyList<NcclTransfer> transfers, CudaStream stream, string step)
    {
        nint handle = Live(step);
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclGroupStart());
            foreach (NcclTransfer t in transfers)
            {
                if (t.Bytes == 0)
                {
                    continue;
                }
                Check(t.IsSend
                    ? Nccl.ncclSend(t.Buffer, (nuint)t.Bytes, NcclDataType.UInt8, t.Peer, handle, stream.Handle)
                    : Nccl.ncclRecv(t.Buffer, (nuint)t.Bytes, NcclDataType.UInt8, t.Peer, handle, stream.Handle));
            }
            Check(Nccl.ncclGroupEnd());
        }
        AwaitIdle(step);
    }

    /// <summary>
    /// All-to-all of variable-sized blocks: <paramref name="sendCounts"/>[d] elements from <paramref name="send"/> (in
    /// rank order) to rank d, <paramref name="recvCounts"/>[s] elements from rank s into <paramref name="recv"/>.
    /// </summary>
    public void AllToAllV(nint send, IReadOnlyList<long> sendCounts, nint recv, IReadOnlyList<long> recvCounts, int elementSize, CudaStream stream)
    {
        var transfers = new List<NcclTransfer>(2 * Size);
        long sendOffset = 0, recvOffset = 0;
        for (int peer = 0; peer < Size; peer++)
        {
            transfers.Add(NcclTransfer.Send(peer, send + (nint)(sendOffset * elementSize), sendCounts[peer] * elementSize));
            transfers.Add(NcclTransfer.Receive(peer, recv + (nint)(recvOffset * elementSize), recvCounts[peer] * elementSize));
            sendOffset += sendCounts[peer];
            recvOffset += recvCounts[peer];
        }
        SendReceive(transfers, stream, "all-to-all");
    }

    /// <summary>
    /// Blocks the host until <paramref name="done"/> has completed, polling NCCL's asynchronous error state, for at most
    /// <see cref="Timeout"/>; on expiry or an NCCL error the communicator is aborted and the exception names <paramref name="step"/>.
    /// </summary>
    public void WaitFor(CudaEvent done, string step)
    {
        long start = Stopwatch.GetTimestamp();
        while (!done.IsComplete)
        {
            ThrowOnAsyncError(step, start);
            Thread.Yield();
        }
    }

    /// <summary>Aborts the communicator (local, never waits for peers): unblocks its kernels; it is unusable afterwards.</summary>
    public void Abort(string step)
    {
        if (_handle == 0)
        {
            return;
        }
        _abortedAt = step;
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclCommAbort(_handle));
        }
        _handle = 0;
    }

    /// <summary>Finalises and destroys an owned communicator (collective); an adopted one is only released.</summary>
    public void Dispose()
    {
        if (_handle == 0)
        {
            return;
        }
        if (!_owned)
        {
            _handle = 0;
            return;
        }
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclCommFinalize(_handle));
        }
        AwaitIdle("communicator finalisation");
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclCommDestroy(_handle));
        }
        _handle = 0;
    }

    private nint Live(string step) => _handle != 0
        ? _handle
        : throw new InvalidOperationException(_abortedAt is null
            ? $"The NCCL communicator of rank {Rank} is disposed; cannot run {step}."
            : $"The NCCL communicator of rank {Rank} was aborted during {_abortedAt}; dispose the buffer and create a new one (cannot run {step}).");

    // A non-blocking communicator reports ncclInProgress until the last call's host-side work (initialisation,
    // connection set-up, enqueueing the kernels) is done; nothing else may be issued on it before.
    private void AwaitIdle(string step)
    {
        long start = Stopwatch.GetTimestamp();
        while (!ThrowOnAsyncError(step, start))
        {
            Thread.Yield();
        }
    }

    // True when idle; throws (after aborting) on an error or once the deadline has passed.
    private bool ThrowOnAsyncError(string step, long start)
    {
        NcclResult state;
        using (CudaDevice.Get(_device).Activate())
        {
            Check(Nccl.ncclCommGetAsyncError(Live(step), out state));
        }
        if (state is not (NcclResult.Success or NcclResult.InProgress))
        {
            string detail = Marshal.PtrToStringUTF8(Nccl.ncclGetLastError(_handle))?.Trim() ?? "";
            Abort(step);
            throw new NcclException(
                $"NCCL failed on rank {Rank} during {step}: nccl{state}{(detail.Length > 0 ? $" ({detail})" : "")}. A peer may have failed; the communicator was aborted.");
        }
        TimeSpan waited = Stopwatch.GetElapsedTime(start);
        if (waited > Timeout)
        {
            Abort(step);
            throw _timeoutError(step, Rank, waited);
        }
        return state == NcclResult.Success;
    }
}
