using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// The host twin of the two low-latency buffer sets (spec §5.2): which set the next call uses, which set
// still holds a receive whose hook has not run (so a third outstanding operation fails instead of
// overwriting it), and each set's combine send buffer, which zero-copy combine reads.
internal sealed class HostLowLatencyBuffers : IDisposable
{
    private const int NumSets = 2;

    private readonly object?[] _pendingReceives = new object?[NumSets];
    private readonly DeviceTensor?[] _combineSendBuffers = new DeviceTensor?[NumSets];

    // The set the next low-latency call uses (DeepEP's low_latency_buffer_idx).
    public int CurrentSet { get; private set; }

    // Claims the current set for one operation and flips the index, as every LL call does.
    public int Acquire(string operation)
    {
        int set = CurrentSet;
        if (_pendingReceives[set] is not null)
        {
            throw new InvalidOperationException(
                $"{operation} needs low-latency buffer set {set}, whose earlier receive hook has not been called: at most two " +
                "low-latency operations may be outstanding. Call the pending hook first.");
        }
        CurrentSet ^= 1;
        return set;
    }

    // Wraps the receive step of an operation on `set` into a hook that runs once, and marks the set busy.
    public Action DeferReceive(int set, Action receive)
    {
        var token = new object();
        _pendingReceives[set] = token;
        return () =>
        {
            if (!ReferenceEquals(_pendingReceives[set], token))
            {
                throw new InvalidOperationException("This receive hook already ran or was discarded by CleanLowLatencyBuffer; a hook runs once.");
            }
            _pendingReceives[set] = null;
            receive();
        };
    }

    // CleanLowLatencyBuffer zeroes both signalling areas, so in-flight receives are lost.
    public void DiscardPendingReceives() => Array.Clear(_pendingReceives);

    // A borrowed BF16 [E_l, R*N, H] view of the current set's send buffer with the GPU layout's strides
    // (R*N*(H+2S), H+2S, 1); allocated on first use and whenever the geometry changes.
    public DeviceTensor NextCombineSendBuffer(int numLocalExperts, int numRows, int hidden)
    {
        long slotElements = hidden + (2 * (hidden / Fp8Cast.ChannelsPerScale));
        long[] shape = [numLocalExperts, numRows, hidden];
        DeviceTensor? buffer = _combineSendBuffers[CurrentSet];
        if (buffer is null || !buffer.Shape.SequenceEqual(shape))
        {
            buffer?.Dispose();
            buffer = DeviceTensor.EmptyStrided(DType.BFloat16, shape, [numRows * slotElements, slotElements, 1]);
            _combineSendBuffers[CurrentSet] = buffer;
        }
        return Borrow(buffer);
    }

    // What a zero-copy combine on `set` reads: the buffer NextCombineSendBuffer handed out for that set.
    public DeviceTensor CombineSendBuffer(int set, int numLocalExperts, int numRows, int hidden)
    {
        DeviceTensor? buffer = _combineSendBuffers[set];
        if (buffer is null || !buffer.Shape.SequenceEqual([numLocalExperts, numRows, hidden]))
        {
            throw new InvalidOperationException(
                "A zero-copy low-latency combine reads the buffer from GetNextLowLatencyCombineBuffer; request it for this handle and write the expert outputs there first.");
        }
        return Borrow(buffer);
    }

    public void Dispose()
    {
        foreach (DeviceTensor? buffer in _combineSendBuffers)
        {
            buffer?.Dispose();
        }
        Array.Clear(_combineSendBuffers);
    }

    private static DeviceTensor Borrow(DeviceTensor buffer) =>
        DeviceTensor.FromPointer(buffer.Pointer, buffer.Shape, buffer.DType, buffer.Device, buffer.Strides);
}
