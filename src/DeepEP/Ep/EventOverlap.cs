using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// DeepEP's <c>EventOverlap</c>: an optional CUDA event recorded after an operation, plus tensors kept
/// alive until it is dropped. <c>using (result.Event) { … }</c> mirrors Python's <c>with</c>: disposing makes
/// the current stream wait on the event (if any).
/// </summary>
public sealed class EventOverlap : IDisposable
{
    /// <summary>An <see cref="EventOverlap"/> that wraps no event (synchronous completion).</summary>
    public static EventOverlap None => new(null);

    /// <summary>Wraps <paramref name="event"/> (null when the operation already completed on the current stream).</summary>
    public EventOverlap(CudaEvent? @event, IReadOnlyList<DeviceTensor>? extraTensors = null)
    {
        Event = @event;
        ExtraTensors = extraTensors ?? [];
    }

    /// <summary>The recorded event, or null.</summary>
    public CudaEvent? Event { get; }

    /// <summary>Tensors held only to keep them alive (graph-safe alternative to record-stream).</summary>
    public IReadOnlyList<DeviceTensor> ExtraTensors { get; }

    /// <summary>Makes <paramref name="stream"/> (the current device's library stream when null) wait on the event.</summary>
    /// <exception cref="InvalidOperationException">There is no event (the operation was not asynchronous).</exception>
    public void CurrentStreamWait(CudaStream? stream = null)
    {
        if (Event is null)
        {
            throw new InvalidOperationException("This EventOverlap holds no event: pass asyncFinish: true to get one.");
        }
        Event.StreamWait(stream);
    }

    /// <summary>Makes the current stream wait if there is an event (Python's <c>__exit__</c>).</summary>
    public void Dispose()
    {
        Event?.StreamWait(null);
    }
}
