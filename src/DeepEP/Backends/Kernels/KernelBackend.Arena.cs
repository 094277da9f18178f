using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Kernels;

// Normal mode's outputs and inputs in either process model: fresh tensors that peers address directly (ranks as
// threads), or views of a leased arena slot (one process per GPU; docs/architecture.md, "Process models").
internal sealed partial class KernelBackend
{
    private int _dispatchCalls;

    /// <summary>A dispatch's row outputs; the source indices belong to the handle.</summary>
    private readonly record struct DispatchOutputs(DeviceTensor RecvX, DeviceTensor? RecvScales, DeviceTensor? RecvTopkIdx, DeviceTensor? RecvTopkWeights);

    /// <summary>
    /// DeepEP's combine input in place: a BF16 <c>[rows, hidden]</c> tensor the experts write their outputs into. With
    /// one process per GPU it views a leased arena slot, so a combine of it publishes it to the peers with no copy.
    /// </summary>
    public DeviceTensor CombineInputBuffer(long rows, long hidden, StreamOptions streams)
    {
        if (_slots is null)
        {
            return DeviceTensor.Empty(DType.BFloat16, [rows, hidden], Device, _order.ComputeStream(streams));
        }
        long bytes = rows * CombineRowBytes(hidden);
        if (bytes > _slots.SlotBytes)
        {
            throw new InvalidOperationException(
                $"A combine input buffer of [{rows}, {hidden}] BF16 needs {bytes} bytes of one receive-arena slot, but numNvlBytes = {_numNvlBytes} gives slots of " +
                $"{_slots.SlotBytes}. Create the EpBuffer with numNvlBytes >= {BufferGeometry.HeaderBytes + ReceiveArenaLayout.ArenaBytesFor(rows, CombineRowBytes(hidden), 0, 0)} " +
                "(EpConfig.GetNvlBufferSizeHint with the token count).");
        }
        using ArenaSlot slot = _slots.TryLease($"a combine input buffer [{rows}, {hidden}]") ?? throw NoFreeSlot("GetCombineInputBuffer");
        return DeviceTensor.Leased(slot, slot.Address, DType.BFloat16, [rows, hidden], Device);
    }

    // The rows alone (the largest output, freed as soon as the caller lets go of it), the small per-row outputs in one
    // allocation: two driver calls between the count wait and the copy launch instead of four.
    private DispatchOutputs AllocateDispatchOutputs(DeviceTensor x, long rows, DType? scalesType, int numScales, int numTopk, CudaStream stream)
    {
        DeviceTensor recvX = DeviceTensor.Empty(x.DType, [rows, x.Size(1)], Device, stream);
        var shapes = new List<(DType, long[], long[]?)>(3);
        if (scalesType is { } scales)
        {
            shapes.Add((scales, [rows, numScales], null));
        }
        if (numTopk > 0)
        {
            shapes.Add((DType.Int64, [rows, numTopk], null));
            shapes.Add((DType.Float32, [rows, numTopk], null));
        }
        DeviceTensor[] small;
        try
        {
            small = shapes.Count == 0 ? [] : DeviceTensor.EmptyGroup(Device, stream, CollectionsMarshal.AsSpan(shapes));
        }
        catch
        {
            recvX.Dispose();
            throw;
        }
        int next = 0;
        DeviceTensor? recvScales = scalesType is null ? null : small[next++];
        return numTopk == 0
            ? new DispatchOutputs(recvX, recvScales, null, null)
            : new DispatchOutputs(recvX, recvScales, small[next], small[next + 1]);
    }

    /// <summary>
    /// A free slot for a dispatch receiving <paramref name="rows"/> rows and its layout, holding fewer rows when the slot
    /// is too small; no slot (null, capacity 0) when every slot is held. Either way the call still runs on every rank
    /// (peers write nothing past the capacity and report it) and <see cref="TakeArenaOutputs"/> throws afterwards.
    /// </summary>
    private (ArenaSlot? Slot, ReceiveArenaLayout Layout) LeaseDispatchSlot(long rows, DeviceTensor x, int numScales, int numTopk)
    {
        int call = ++_dispatchCalls;
        ArenaSlot? slot = _slots!.TryLease($"the outputs of dispatch call {call} ({x.DType} [{rows}, {x.Size(1)}])");
        long fit = slot is null ? 0 : ReceiveArenaLayout.RowsThatFit(_slots.SlotBytes, CombineRowBytes(x.Size(1)), numScales, numTopk);
        return (slot, ReceiveArenaLayout.Of(Math.Min(rows, fit), CombineRowBytes(x.Size(1)), numScales, numTopk));
    }

    private static DispatchPeer ArenaDispatchPeer(ArenaSlot? slot, ReceiveArenaLayout layout, int numScales, int numTopk)
    {
        nint at = slot?.Address ?? 0;
        return at == 0
            ? new DispatchPeer { Capacity = 0 }
            : new DispatchPeer
            {
                RecvX = at + (nint)layout.X,
                RecvXScales = numScales == 0 ? 0 : at + (nint)layout.XScales,
                RecvSrcIdx = at + (nint)layout.SrcIdx,
                RecvTopkIdx = numTopk == 0 ? 0 : at + (nint)layout.TopkIdx,
                RecvTopkWeights = numTopk == 0 ? 0 : at + (nint)layout.TopkWeights,
                Capacity = layout.Rows,
            };
    }

    /// <summary>
    /// After the call: the outputs as views of the slot (which they co-own from now on) and the source indices copied
    /// into the handle's tensor (4 bytes a row: the handle outlives the outputs). Throws when the rows did not fit.
    /// </summary>
    private DispatchOutputs TakeArenaOutputs(ArenaSlot? slot, ReceiveArenaLayout layout, long rows, DeviceTensor x, DType? scalesType, int numScales, int numTopk, DeviceTensor recvSrcIdx)
    {
        using (slot)
        {
            if (slot is null)
            {
                throw NoFreeSlot("Dispatch");
            }
            ThrowIfArenaTooSmall(layout.Rows, rows, x.Size(1), numScales, numTopk);
            nint at = slot.Address;
            DeviceMemory.CopyAsync(Device, recvSrcIdx.Pointer, at + (nint)layout.SrcIdx, recvSrcIdx.ByteSize, Comm);
            return new DispatchOutputs(
                DeviceTensor.Leased(slot, at + (nint)layout.X, x.DType, [rows, x.Size(1)], Device),
                scalesType is { } scales ? DeviceTensor.Leased(slot, at + (nint)layout.XScales, scales, [rows, numScales], Device) : null,
                numTopk == 0 ? null : DeviceTensor.Leased(slot, at + (nint)layout.TopkIdx, DType.Int64, [rows, numTopk], Device),
                numTopk == 0 ? null : DeviceTensor.Leased(slot, at + (nint)layout.TopkWeights, DType.Float32, [rows, numTopk], Device));
        }
    }

    private void ThrowIfArenaTooSmall(long capacity, long rows, long hidden, int numScales, int numTopk)
    {
        if (rows <= capacity)
        {
            return;
        }
        long needed = BufferGeometry.HeaderBytes + ReceiveArenaLayout.ArenaBytesFor(rows, CombineRowBytes(hidden), numScales, numTopk);
        throw new InvalidOperationException(
            $"Rank {_mesh.Rank} receives {rows} rows (hidden {hidden}, {numScales} scales, top-{numTopk}), but with one process per GPU received rows live in a " +
            $"slot of the receive arena carved from numNvlBytes = {_numNvlBytes}, which holds {capacity}. Create the EpBuffer with numNvlBytes >= {needed} " +
            "(EpConfig.GetNvlBufferSizeHint with the token count). Nothing was written past the slot; this dispatch's outputs are not valid.");
    }

    private InvalidOperationException NoFreeSlot(string call) => new(
        $"Rank {_mesh.Rank}: {call} needs a slot of the receive arena, but all {ArenaSlots.Count} are held ({_slots!.DescribeHolders()}). With one process " +
        "per GPU, dispatch outputs and combine input buffers are views of the arena, so a result is never overwritten while it is held. Dispose the " +
        "DispatchResult tensors and combine input buffers you no longer need, or copy what you keep (tensor.To(tensor.Device)) and dispose the original." +
        (call == "Dispatch" ? " The peers finished this call; its outputs are not valid." : string.Empty));

    /// <summary>
    /// The combine inputs as peers will read them: in place when they already lie in the arena (a combine input buffer,
    /// the dispatch's own outputs), else copied into a slot leased for this call (returned, for the caller to release).
    /// </summary>
    private (CombinePeer Peer, ArenaSlot? Staging) PublishCombineInputs(DeviceTensor x, DeviceTensor? topkWeights)
    {
        long rows = x.Size(0);
        bool xInPlace = _slots!.Contains(x.Pointer, x.ByteSize);
        bool weightsInPlace = topkWeights is null || _slots.Contains(topkWeights.Pointer, topkWeights.ByteSize);
        if (xInPlace && weightsInPlace)
        {
            return (new CombinePeer { X = x.Pointer, TopkWeights = topkWeights?.Pointer ?? 0, NumRows = rows }, null);
        }
        int numTopk = topkWeights is null ? 0 : checked((int)topkWeights.Size(1));
        ReceiveArenaLayout layout = ReceiveArenaLayout.Of(rows, CombineRowBytes(x.Size(1)), 0, numTopk);
        if (layout.Bytes > _slots.SlotBytes)
        {
            // Unreachable after a dispatch through this buffer (its rows fit both ways), so peers are not spared the wait.
            throw new InvalidOperationException(
                $"Rank {_mesh.Rank} combines {rows} rows of hidden {x.Size(1)}, which need {layout.Bytes} bytes of a receive-arena slot; numNvlBytes = {_numNvlBytes} gives {_slots.SlotBytes}.");
        }
        ArenaSlot staging = _slots.TryLease("the inputs of the combine in flight") ?? throw NoFreeSlot("Combine");
        nint stagedX = xInPlace ? x.Pointer : staging.Address + (nint)layout.X;
        nint stagedWeights = weightsInPlace ? topkWeights?.Pointer ?? 0 : staging.Address + (nint)layout.TopkWeights;
        if (!xInPlace)
        {
            DeviceMemory.CopyAsync(Device, stagedX, x.Pointer, x.ByteSize, Comm);
        }
        if (!weightsInPlace)
        {
            DeviceMemory.CopyAsync(Device, stagedWeights, topkWeights!.Pointer, topkWeights.ByteSize, Comm);
        }
        return (new CombinePeer { X = stagedX, TopkWeights = stagedWeights, NumRows = rows }, staging);
    }

    /// <summary>Bytes of one BF16 row, the widest either direction carries.</summary>
    private static long CombineRowBytes(long hidden) => hidden * DType.BFloat16.ElementSize();
}
