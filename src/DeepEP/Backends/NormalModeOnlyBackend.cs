using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>A backend without low-latency mode: every low-latency member throws <see cref="NotSupportedException"/> naming the backend that has it.</summary>
internal abstract class NormalModeOnlyBackend : IEpBackend
{
    public abstract EpBackendKind Kind { get; }

    public abstract int Device { get; }

    public abstract DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, StreamOptions streams);

    public abstract DispatchResult Dispatch(NormalDispatchRequest request);

    public abstract CombineResult Combine(NormalCombineRequest request);

    public LowLatencyDispatchResult LowLatencyDispatch(LowLatencyDispatchRequest request) => throw LowLatencyUnavailable();

    public LowLatencyCombineResult LowLatencyCombine(LowLatencyCombineRequest request) => throw LowLatencyUnavailable();

    public DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle) => throw LowLatencyUnavailable();

    public void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts) => throw LowLatencyUnavailable();

    public void UpdateMaskBuffer(int rankToMask, bool mask) => throw LowLatencyUnavailable();

    public void QueryMaskBuffer(DeviceTensor maskStatus) => throw LowLatencyUnavailable();

    public void CleanMaskBuffer() => throw LowLatencyUnavailable();

    public abstract void Dispose();

    private NotSupportedException LowLatencyUnavailable() =>
        new($"Low-latency mode is not available on the {Kind.ToString().ToLowerInvariant()} backend in this build; use the host backend (DEEPEP_BACKEND=host) for it.");
}
