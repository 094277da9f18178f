using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

/// <summary>
/// The CPU reference backend: implements the DeepEP semantics (spec §1–3, §5) directly on host tensors,
/// exchanging data between ranks through a <see cref="ProcessGroup"/>, so ranks may be threads or processes.
/// It is the oracle every GPU result is compared with and the engine used without a GPU.
/// </summary>
/// <remarks>
/// <para>Everything completes synchronously, so every returned <see cref="EventOverlap"/> wraps no event.</para>
/// <para>Normal mode is bit-exact with the kernels, including the handle: the rank prefix matrix is filled
/// in full, and <c>send_head</c> is rewritten in place by the first combine (spec §2.5).</para>
/// <para>Low-latency dispatch packs each expert's rows by source rank ascending, then by (token, top-k slot)
/// ascending; the spec allows any order, so GPU comparisons must stay order-independent.</para>
/// <para>With <c>returnRecvHook</c> the exchange happens in the call and the hook performs the receive step
/// (packing or reduction); outputs are defined only after it runs. A hook runs once; an operation that needs a
/// buffer set whose hook is still pending (a third outstanding operation) throws
/// <see cref="InvalidOperationException"/>; <see cref="CleanLowLatencyBuffer"/> discards pending hooks.</para>
/// <para>Masking (spec §5.6) is this rank's view: it neither sends to nor accepts data from a rank it has
/// masked, and low-latency combine skips slots whose owner is masked. A peer that has masked this rank sends it
/// nothing and gets masked in turn, as the GPU's receive timeout would do. Ranks masked explicitly must still make
/// every call, because the exchange is collective. With shrink on an in-process group, a rank that misses a
/// low-latency exchange's deadline is left out of it and of later ones and masked by every survivor; its late calls
/// throw until every rank calls <see cref="CleanMaskBuffer"/>. Shrink over a TCP group is refused.</para>
/// <para>No waiting happens on the host, so the dispatch and combine wait-cost statistics are left unchanged;
/// <c>cumulative_local_expert_recv_stats</c> is accumulated as on the GPU.</para>
/// <para>LogFMT-10 combine is the reference (<see cref="LogFmt10"/>, portable log2/exp2 instead of the GPU's
/// approximate ones): the GPU backends' encoders and decoders give its bits.</para>
/// </remarks>
internal sealed class HostBackend : IEpBackend
{
    private readonly HostExchange _group;
    private readonly bool _enableShrink;
    private readonly bool[] _maskedRanks;
    private readonly LowLatencyCombineBuffers _lowLatencyBuffers = new(DeviceTensor.HostDevice);
    private readonly HostCommBuffers _commBuffers;

    /// <summary>Creates the backend for this rank of <paramref name="group"/> (which the caller keeps owning).</summary>
    /// <param name="group">The expert-parallel group; every rank calls every operation in the same order.</param>
    /// <param name="enableShrink">DeepEP's <c>enable_shrink</c>: allow the mask buffer operations of spec §5.6, and mask a rank
    /// that misses a low-latency exchange's deadline instead of failing (in-process groups only).</param>
    /// <param name="timeout">Deadline of every exchange (null: the group's default); a peer that has not joined by then is
    /// named in a <see cref="CommunicationTimeoutException"/>.</param>
    /// <param name="numNvlBytes">Bytes of the normal-mode buffer <see cref="LocalBufferBytes"/> views (allocated on first use).</param>
    /// <param name="numRdmaBytes">Bytes of the low-latency buffer <see cref="LocalBufferBytes"/> views (allocated on first use).</param>
    public HostBackend(ProcessGroup group, bool enableShrink = false, TimeSpan? timeout = null, long numNvlBytes = 0, long numRdmaBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(group);
        _group = new HostExchange(group, timeout ?? group.DefaultTimeout, enableShrink);
        _enableShrink = enableShrink;
        _maskedRanks = new bool[group.Size];
        _commBuffers = new HostCommBuffers(numNvlBytes, numRdmaBytes);
    }

    /// <inheritdoc />
    public EpBackendKind Kind => EpBackendKind.Host;

    /// <inheritdoc />
    public int Device => DeviceTensor.HostDevice;

    public int SmBudget => 0;

    /// <inheritdoc />
    public CudaStream? CommStream => null;

    /// <inheritdoc />
    public DeviceTensor LocalBufferBytes(bool useRdmaBuffer) => _commBuffers.Bytes(useRdmaBuffer);

    /// <inheritdoc />
    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, StreamOptions streams) =>
        HostLayout.Compute(topkIdx, numExperts, _group.Size);

    /// <inheritdoc />
    public DeviceTensor CombineInputBuffer(long rows, long hidden, StreamOptions streams) =>
        DeviceTensor.Empty(DType.BFloat16, [rows, hidden]);

    /// <inheritdoc />
    public DispatchResult Dispatch(NormalDispatchRequest request) =>
        _group.Step(request.Handle is null ? "dispatch" : "cached dispatch", () => HostNormalDispatch.Dispatch(_group, request));

    /// <inheritdoc />
    public CombineResult Combine(NormalCombineRequest request) => _group.Step("combine", () => HostNormalCombine.Combine(_group, request));

    /// <inheritdoc />
    public LowLatencyDispatchResult LowLatencyDispatch(LowLatencyDispatchRequest request) =>
        _group.Step("low-latency dispatch", () => HostLowLatencyDispatch.Dispatch(_group, request, _lowLatencyBuffers, _maskedRanks));

    /// <inheritdoc />
    public LowLatencyCombineResult LowLatencyCombine(LowLatencyCombineRequest request) =>
        _group.Step("low-latency combine", () => HostLowLatencyCombine.Combine(_group, request, _lowLatencyBuffers, _maskedRanks));

    /// <inheritdoc />
    public FusedMoeResult FusedDeepMoe(FusedMoeRequest request) =>
        _group.Step("fused MoE", () => HostFusedMoe.Run(_group, request, _lowLatencyBuffers, _maskedRanks));

    /// <inheritdoc />
    public DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle) =>
        _lowLatencyBuffers.NextCombineSendBuffer(handle.NumExperts / _group.Size, _group.Size * handle.NumMaxDispatchTokensPerRank, handle.Hidden);

    /// <inheritdoc />
    public void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts, StreamOptions streams) => _group.Step("clean low-latency buffer", () =>
    {
        _group.Barrier();
        _lowLatencyBuffers.DiscardPendingReceives();
    });

    /// <inheritdoc />
    public void UpdateMaskBuffer(int rankToMask, bool mask, StreamOptions streams)
    {
        RequireShrink();
        _maskedRanks[rankToMask] = mask;
    }

    /// <inheritdoc />
    public void QueryMaskBuffer(DeviceTensor maskStatus, StreamOptions streams)
    {
        RequireShrink();
        Span<int> status = maskStatus.AsSpan<int>();
        if (maskStatus.DType != DType.Int32 || status.Length != _maskedRanks.Length)
        {
            throw new InvalidOperationException($"The mask status needs {_maskedRanks.Length} Int32 elements; got {maskStatus.Describe()}.");
        }
        for (int s = 0; s < status.Length; s++)
        {
            status[s] = _maskedRanks[s] ? 1 : 0;
        }
    }

    /// <summary>
    /// Unmasks every rank. Unlike the GPU's, a collective of every rank (masked ones included): it readmits the ranks
    /// that shrink mode left out, so that later exchanges wait for them again.
    /// </summary>
    public void CleanMaskBuffer(StreamOptions streams)
    {
        RequireShrink();
        _group.Step("clean mask buffer", () =>
        {
            _group.Readmit();
            Array.Clear(_maskedRanks);
        });
    }

    /// <summary>Frees the zero-copy combine buffers and the local buffers; the process group stays with its owner.</summary>
    public void Dispose()
    {
        _lowLatencyBuffers.Dispose();
        _commBuffers.Dispose();
    }

    private void RequireShrink()
    {
        if (!_enableShrink)
        {
            throw new InvalidOperationException("The mask buffer exists only with enableShrink; create the backend with enableShrink: true.");
        }
    }
}
