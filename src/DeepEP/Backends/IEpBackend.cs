using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// One engine behind <see cref="EpBuffer"/>. <see cref="EpBuffer"/> validates every argument before calling
/// in, so implementations may assume shapes, dtypes and ranges are consistent (spec preconditions hold).
/// All ranks of the group call the same methods in the same order.
/// </summary>
internal interface IEpBackend : IDisposable
{
    /// <summary>Which backend this is.</summary>
    EpBackendKind Kind { get; }

    /// <summary>Device ordinal the backend's tensors live on, or <see cref="DeviceTensor.HostDevice"/>.</summary>
    int Device { get; }

    /// <summary>SMs this rank's kernels may hold at once (its GPU's, split among the ranks sharing it); 0 on the host.</summary>
    int SmBudget { get; }

    /// <summary>The stream the communication kernels run on (DeepEP's <c>comm_stream</c>); null on the host backend.</summary>
    CudaStream? CommStream { get; }

    /// <summary>
    /// This rank's communication buffer (<paramref name="useRdmaBuffer"/>: the low-latency one, else the normal-mode one)
    /// as a 1-D UInt8 view of its declared size, owned by the backend (DeepEP's <c>get_local_buffer_tensor</c>).
    /// </summary>
    /// <exception cref="NotSupportedException">The backend holds no such buffer of its own; the message says why.</exception>
    DeviceTensor LocalBufferBytes(bool useRdmaBuffer);

    /// <summary>Spec §1.</summary>
    DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, StreamOptions streams);

    /// <summary>Spec §2 (non-cached when <see cref="NormalDispatchRequest.Handle"/> is null, cached otherwise).</summary>
    DispatchResult Dispatch(NormalDispatchRequest request);

    /// <summary>Spec §3.</summary>
    CombineResult Combine(NormalCombineRequest request);

    /// <summary>
    /// A BF16 <c>[rows, hidden]</c> tensor for the expert outputs of the next combine (<c>EpBuffer.GetCombineInputBuffer</c>):
    /// memory the peers already address where the backend has such (no copy at combine), else a new tensor.
    /// </summary>
    DeviceTensor CombineInputBuffer(long rows, long hidden, StreamOptions streams);

    /// <summary>Spec §5.3.</summary>
    LowLatencyDispatchResult LowLatencyDispatch(LowLatencyDispatchRequest request);

    /// <summary>Spec §5.4.</summary>
    LowLatencyCombineResult LowLatencyCombine(LowLatencyCombineRequest request);

    /// <summary>Low-latency dispatch, each local expert's FFN, low-latency combine (docs/fused-moe.md).</summary>
    FusedMoeResult FusedDeepMoe(FusedMoeRequest request);

    /// <summary>The BF16 <c>[E_l, R*N, H]</c> view the next low-latency combine reads in zero-copy mode.</summary>
    DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle);

    /// <summary>Spec §5.2: zero both signalling areas between barriers, ordered after, and waited for by, the compute stream.</summary>
    void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts, StreamOptions streams);

    /// <summary>Spec §5.6: set or clear the mask of one rank (on the compute stream).</summary>
    void UpdateMaskBuffer(int rankToMask, bool mask, StreamOptions streams);

    /// <summary>Spec §5.6: copy the mask into <paramref name="maskStatus"/> (<c>[R]</c> Int32) on the compute stream.</summary>
    void QueryMaskBuffer(DeviceTensor maskStatus, StreamOptions streams);

    /// <summary>Spec §5.6: clear every mask (on the compute stream).</summary>
    void CleanMaskBuffer(StreamOptions streams);
}
