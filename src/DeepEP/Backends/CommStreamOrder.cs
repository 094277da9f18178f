using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// Spec §2.9 for the GPU backends: a communication stream ordered after the caller's work, outputs allocated on the
/// caller's stream unless <c>allocateOnCommStream</c>, and completion returned as an event or waited for by the
/// caller's stream. The communication stream belongs to the backend.
/// </summary>
internal sealed class CommStreamOrder : IDisposable
{
    // Re-recorded on every call: a stream wait captures the record current at the time, so one event per direction suffices.
    private readonly CudaEvent _callerReady;
    private readonly CudaEvent _commDone;

    public CommStreamOrder(CudaStream comm)
    {
        Comm = comm;
        _callerReady = new CudaEvent(comm.Device);
        _commDone = new CudaEvent(comm.Device);
    }

    /// <summary>The stream every communication operation runs on.</summary>
    public CudaStream Comm { get; }

    /// <summary>The caller's stream: the one given, else the device's library stream.</summary>
    public CudaStream ComputeStream(StreamOptions streams) => streams.ComputeStream ?? CudaStream.ForDevice(Comm.Device);

    /// <summary>
    /// Orders the communication stream after the caller's work (spec §2.9, step 3): after <c>previousEvent</c> when
    /// given, else after everything queued on <paramref name="compute"/> so far (allocations included). A second call
    /// with <paramref name="compute"/> null only orders after allocations made since (nothing to do on Comm itself).
    /// </summary>
    public void Begin(StreamOptions streams, CudaStream? compute)
    {
        if (compute is null)
        {
            return;
        }
        if (streams.PreviousEvent?.Event is { } previous)
        {
            Comm.Wait(previous);
        }
        _callerReady.Record(compute);
        Comm.Wait(_callerReady);
    }

    /// <summary>Outputs are allocated on the caller's stream, as PyTorch's allocator would, unless allocateOnCommStream (spec §2.9).</summary>
    public CudaStream OutputStream(StreamOptions streams, CudaStream compute) => streams.AllocateOnCommStream ? Comm : compute;

    /// <summary>Returns the completion event (asyncFinish) or makes the compute stream wait (spec §2.9, step 5).</summary>
    public EventOverlap Finish(StreamOptions streams, CudaStream compute, IReadOnlyList<DeviceTensor> keepAlive)
    {
        if (streams.AsyncFinish)
        {
            return new EventOverlap(Comm.RecordEvent(), keepAlive);
        }
        _commDone.Record(Comm);
        compute.Wait(_commDone);
        return EventOverlap.None;
    }

    /// <summary>Frees the events; the stream stays with its owner.</summary>
    public void Dispose()
    {
        _callerReady.Dispose();
        _commDone.Dispose();
    }
}
