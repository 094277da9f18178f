using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Backends;

/// <summary>The stream arguments every normal-mode call takes (spec §2.9).</summary>
/// <param name="PreviousEvent">Event the communication stream waits on first; null: wait on <see cref="ComputeStream"/>.</param>
/// <param name="AsyncFinish">Return an event instead of making the compute stream wait.</param>
/// <param name="AllocateOnCommStream">Allocate outputs on the communication stream (requires the two above).</param>
/// <param name="ComputeStream">The caller's stream; null is the device's library stream.</param>
internal sealed record StreamOptions(EventOverlap? PreviousEvent, bool AsyncFinish, bool AllocateOnCommStream, CudaStream? ComputeStream)
{
    /// <summary>Synchronous completion on the default stream.</summary>
    public static StreamOptions Default { get; } = new(null, false, false, null);
}
