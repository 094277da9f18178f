using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Backends;

// The two low-latency buffer sets (spec §5.2) of the backends without a symmetric buffer (host, NCCL): the set
// tracking every backend shares, plus each set's combine send buffer, which zero-copy combine reads, in host memory
// or on one device.
internal sealed class LowLatencyCombineBuffers(int device) : LowLatencyBufferSets, IDisposable
{
    private const int NumSets = 2;

    private readonly DeviceTensor?[] _combineSendBuffers = new DeviceTensor?[NumSets];

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
            buffer = DeviceTensor.EmptyStrided(DType.BFloat16, shape, [numRows * slotElements, slotElements, 1], device);
            if (device != DeviceTensor.HostDevice)
            {
                // Pool memory is ready in the library stream's order; the caller may write it from any stream.
                CudaStream.ForDevice(device).Synchronize();
            }
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
