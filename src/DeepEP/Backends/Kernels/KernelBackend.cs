using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// Our NVLink kernels. Normal mode (this file): senders write every selected token straight into its final row of each
/// destination's outputs; combine pulls each token's rows from the ranks that hold them and reduces in rank order.
/// Ranks are threads of one process (peer access: the kernels address the peers' tensors directly) or one process per
/// GPU (CUDA IPC: tensors of other processes are not mapped, so rows go through each rank's receive arena, a symmetric
/// allocation carved from numNvlBytes; see docs/architecture.md).
/// </summary>
internal sealed partial class KernelBackend : IEpBackend
{
    private readonly PeerMesh _mesh;
    private readonly CommStreamOrder _order;
    private readonly LowLatencyResources? _lowLatency;

    // Only when a peer runs in another process: the arena peers write dispatch rows into and read combine rows from,
    // and its slots, which the outputs and combine input buffers view.
    private readonly SymmetricAllocation? _arena;
    private readonly ArenaSlots? _slots;
    private readonly long _numNvlBytes;

    /// <param name="group">The ranks.</param>
    /// <param name="options">Device, timeout, masking.</param>
    /// <param name="numNvlBytes">Bytes of the normal-mode buffer (the receive arena with one process per GPU).</param>
    /// <param name="lowLatencyBytes">Bytes of the symmetric low-latency buffer; 0 without low-latency mode.</param>
    public KernelBackend(ProcessGroup group, EpBufferOptions options, long numNvlBytes, long lowLatencyBytes)
    {
        _mesh = PeerMesh.Create(group, BackendFactory.ResolveDevice(group, options), options.Timeout ?? EpEnvironment.Current.Timeout);
        _order = new CommStreamOrder(_mesh.CommStream);
        _numNvlBytes = numNvlBytes;
        if (_mesh.CrossesProcesses)
        {
            // Never empty, so there is always an allocation to export; a too small one fails each call by name.
            _arena = _mesh.AllocateSymmetric(Math.Max(numNvlBytes - BufferGeometry.HeaderBytes, ArenaSlots.Count * BufferGeometry.Alignment));
            _slots = new ArenaSlots(_arena.Local, _arena.Bytes);
        }
        if (lowLatencyBytes > 0)
        {
            _lowLatency = new LowLatencyResources(_mesh, lowLatencyBytes, options.EnableShrink);
            _mesh.ToleratesLostRanks = options.EnableShrink;
            _mesh.LowLatencyState = _lowLatency.Describe;
        }
        // cuMemAlloc may wait for the whole GPU: with ranks sharing it, a rank that finished creating its buffer must not
        // launch a waiting kernel while another rank still allocates, or each waits for the other until the deadline.
        group.Barrier();
    }

    public EpBackendKind Kind => EpBackendKind.Kernels;

    public int Device => _mesh.Device;

    public int SmBudget => _mesh.SmBudget;

    private CudaStream Comm => _mesh.CommStream;

    /// <inheritdoc />
    public CudaStream? CommStream => _mesh.CommStream;

    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, StreamOptions streams)
    {
        _mesh.ThrowIfTimedOut("get dispatch layout");
        return DeviceDispatchLayout.Compute(_order, topkIdx, numExperts, _mesh.NumRanks, streams);
    }

    public DispatchResult Dispatch(NormalDispatchRequest request)
    {
        _mesh.CheckSmBudget(request.Config.NumSms);
        CudaStream compute = ComputeStream(request.Streams, "dispatch");
        CudaStream outputs = OutputStream(request.Streams, compute);
        DeviceTensor x = request.X;
        int tokens = request.NumTokens;
        int ranks = _mesh.NumRanks;
        int channels = request.Config.NumChannels;
        int numScales = request.NumScales;
        int numTopk = request.NumTopk;
        DispatchHandle? handle = request.Handle;
        IReadOnlyList<int> perExpertList = [];
        DeviceTensor? recvCount = null;
        long rows;
        if (handle is null)
        {
            Begin(request.Streams, compute);
            (handle, perExpertList, recvCount, rows) = Notify(request, tokens, channels);
        }
        else
        {
            rows = handle.NumRecvTokens;
        }

        DeviceTensor recvSrcIdx = request.Handle is null ? handle.RecvSrcIdx : DeviceTensor.Empty(DType.Int32, [rows], Device, Comm);
        // Ranks as threads: the peers write straight into freshly allocated outputs. One process per GPU: into a leased
        // arena slot, whose views become the outputs after the call (no copy).
        DispatchOutputs? allocated = null;
        ArenaSlot? slot = null;
        ReceiveArenaLayout arenaLayout = default;
        DispatchPeer published;
        if (_slots is null)
        {
            allocated = AllocateDispatchOutputs(x, rows, request.XScales?.DType, numScales, numTopk, outputs);
            published = new DispatchPeer
            {
                RecvX = allocated.Value.RecvX.Pointer,
                RecvXScales = allocated.Value.RecvScales?.Pointer ?? 0,
                RecvSrcIdx = recvSrcIdx.Pointer,
                RecvTopkIdx = allocated.Value.RecvTopkIdx?.Pointer ?? 0,
                RecvTopkWeights = allocated.Value.RecvTopkWeights?.Pointer ?? 0,
                Capacity = rows,
            };
        }
        else
        {
            (slot, arenaLayout) = LeaseDispatchSlot(rows, x, numScales, numTopk);
            published = ArenaDispatchPeer(slot, arenaLayout, numScales, numTopk);
        }
        // One wait covers the caller's work and these allocations (a cached dispatch has not waited yet; a non-cached one
        // must wait again when the outputs came from the caller's stream).
        Begin(request.Streams, outputs == Comm && request.Handle is null ? null : compute);

        published.RowShape = RowShape.Pack(RowWords(x), numScales, numTopk);
        var p = new IntranodeDispatchParams
        {
            Source = request.Source(handle, ranks),
            Headers = _mesh.Headers,
            PeerDeltas = PeerDeltas,
            RankPrefixMatrix = handle.RankPrefixMatrix.Pointer,
            Diagnostics = _mesh.Diagnostics,
            NumRanks = ranks,
            Rank = _mesh.Rank,
            NumChannels = channels,
            Mailbox = Mailbox.Of(published),
            TimeoutNs = _mesh.TimeoutNs,
            Epoch = _mesh.NextEpochs(2), // the kernel's entry and exit barriers
        };
        IntranodeDispatchRuntime.Launch(Device, _mesh.Share, Comm, request.Config.NumSms, RowWords(x), p);
        // After the launch, so the peers finish this call even when this rank cannot take its rows.
        DispatchOutputs received;
        try
        {
            received = allocated ?? TakeArenaOutputs(slot, arenaLayout, rows, x, request.XScales?.DType, numScales, numTopk, recvSrcIdx);
        }
        catch (InvalidOperationException)
        {
            // The rows did not fit: nothing of this call reaches the caller.
            recvCount?.Dispose();
            (request.Handle is null ? handle : null)?.Dispose();
            recvSrcIdx.Dispose();
            throw;
        }
        (DeviceTensor recvX, DeviceTensor? recvScales, DeviceTensor? recvTopkIdx, DeviceTensor? recvTopkWeights) = received;
        if (request.NumWorstTokens > 0 && recvTopkIdx is not null && recvCount is not null)
        {
            IntranodeDispatchRuntime.LaunchMarkPadding(Device, Comm, new MarkPaddingParams
            {
                RecvTopkIdx = recvTopkIdx.Pointer,
                RecvCount = recvCount.Pointer,
                NumRows = checked((int)rows),
                NumTopk = numTopk,
            });
        }
        EventOverlap done = Finish(request.Streams, compute, [x, recvX]);
        recvCount?.Dispose();
        if (request.Handle is not null)
        {
            recvSrcIdx.Dispose();
            return new DispatchResult(recvX, recvScales, null, null, [], null, done);
        }
        return new DispatchResult(recvX, recvScales, recvTopkIdx, recvTopkWeights, perExpertList, handle, done);
    }

    public CombineResult Combine(NormalCombineRequest request)
    {
        _mesh.CheckSmBudget(request.Config.NumSms);
        CudaStream compute = ComputeStream(request.Streams, "combine");
        DispatchHandle handle = request.Handle;
        int tokens = checked((int)handle.NumTokens);
        int ranks = _mesh.NumRanks;
        int numTopk = request.NumTopk;
        CudaStream outputs = OutputStream(request.Streams, compute);
        DeviceTensor combined = DeviceTensor.Empty(DType.BFloat16, [tokens, request.X.Size(1)], Device, outputs);
        DeviceTensor? combinedWeights = numTopk == 0 ? null : DeviceTensor.Empty(DType.Float32, [tokens, numTopk], Device, outputs);
        Begin(request.Streams, compute);
        // One process per GPU: inputs outside the arena are staged into a slot leased for this call (not needed when x
        // came from GetCombineInputBuffer or is the dispatch's own RecvX).
        (CombinePeer published, ArenaSlot? staging) = _slots is null
            ? (new CombinePeer { X = request.X.Pointer, TopkWeights = request.TopkWeights?.Pointer ?? 0, NumRows = request.X.Size(0) }, null)
            : PublishCombineInputs(request.X, request.TopkWeights);
        published.RowShape = RowShape.Pack(RowWords(request.X), numScales: 0, numTopk: 0);
        IntranodeCombineRuntime.LaunchRewriteSendHead(Device, Comm, new RewriteSendHeadParams
        {
            SendHead = handle.SendHead.Pointer,
            NumTokens = tokens,
            NumRanks = ranks,
            NumChannels = handle.NumChannels,
        });
        var p = new IntranodeCombineParams
        {
            Target = request.Target(combined, combinedWeights, ranks),
            Headers = _mesh.Headers,
            PeerDeltas = PeerDeltas,
            RankPrefixMatrix = handle.RankPrefixMatrix.Pointer,
            Diagnostics = _mesh.Diagnostics,
            Mailbox = Mailbox.Of(published),
            TimeoutNs = _mesh.TimeoutNs,
            Rank = _mesh.Rank,
            Epoch = _mesh.NextEpochs(2), // the kernel's entry and exit barriers
        };
        IntranodeCombineRuntime.Launch(Device, _mesh.Share, Comm, request.Config.NumSms, RowWords(request.X), p);
        // Reused only by later work on this stream, after the kernel's exit barrier, which every peer's reads of it precede.
        staging?.Dispose();
        return new CombineResult(combined, combinedWeights, Finish(request.Streams, compute, [request.X, combined]));
    }

    public void Dispose()
    {
        if (_lowLatency is not null)
        {
            // Peers may still write into this rank's low-latency buffer until they, too, are done.
            _mesh.CommStream.Synchronize();
            CudaStream.ForDevice(Device).Synchronize();
            _mesh.CloseBarrier();
            _lowLatency.Dispose();
        }
        _mesh.Dispose();
        _arena?.Dispose();
        _order.Dispose();
    }

    /// <summary>What to add to a pointer each rank published to address it from here (all 0 without an arena).</summary>
    private PeerArray<long> PeerDeltas => _arena?.Deltas ?? default;

    private static int RowWords(DeviceTensor x) => checked((int)(x.Size(1) * x.DType.ElementSize() / 16));

    /// <summary>Count exchange of a non-cached dispatch: the handle's matrices, the per-expert list and M.</summary>
    private (DispatchHandle Handle, IReadOnlyList<int> PerExpert, DeviceTensor RecvCount, long Rows) Notify(NormalDispatchRequest request, int tokens, int channels)
    {
        int ranks = _mesh.NumRanks;
        int localExperts = request.NumExperts / ranks;
        DeviceTensor isTokenInRank = request.IsTokenInRank!;
        // Two allocations instead of six on the host's path to the notify launch: the handle's matrices live and die
        // together, and so do the two scratch tensors of this call.
        DeviceTensor[] matrices = DeviceTensor.EmptyGroup(Device, Comm,
            (DType.Int32, [tokens, ranks], null), (DType.Int32, [ranks, channels], null), (DType.Int32, [ranks, ranks], null), (DType.Int32, [ranks, channels], null));
        (DeviceTensor sendHead, DeviceTensor channelPrefix, DeviceTensor rankPrefix, DeviceTensor recvChannelPrefix) = (matrices[0], matrices[1], matrices[2], matrices[3]);
        DeviceTensor[] scratch = DeviceTensor.EmptyGroup(Device, Comm, (DType.Int32, [ranks, channels], null), (DType.Int32, [1], null));
        using DeviceTensor channelCounts = scratch[0];
        DeviceTensor recvCount = scratch[1];
        DispatchLayoutRuntime.LaunchChannelLayout(Device, Comm, new ChannelLayoutParams
        {
            IsTokenInRank = isTokenInRank.Pointer,
            SendHead = sendHead.Pointer,
            ChannelCounts = channelCounts.Pointer,
            NumTokens = tokens,
            NumRanks = ranks,
            NumChannels = channels,
        });
        bool hostWaits = request.NumWorstTokens == 0;
        if (hostWaits)
        {
            _mesh.ResetHostCounters(localExperts);
        }
        NotifyDispatchRuntime.Launch(Device, Comm, new NotifyDispatchParams
        {
            Headers = _mesh.Headers,
            NumTokensPerRank = request.NumTokensPerRank!.Pointer,
            NumTokensPerExpert = request.NumTokensPerExpert!.Pointer,
            ChannelCounts = channelCounts.Pointer,
            ChannelPrefixMatrix = channelPrefix.Pointer,
            RankPrefixMatrix = rankPrefix.Pointer,
            RecvChannelPrefixMatrix = recvChannelPrefix.Pointer,
            RecvCount = recvCount.Pointer,
            HostRecvCount = hostWaits ? _mesh.HostRecvCount : 0,
            HostExpertCounts = hostWaits ? _mesh.HostExpertCounts : 0,
            Diagnostics = _mesh.Diagnostics,
            TimeoutNs = _mesh.TimeoutNs,
            Rank = _mesh.Rank,
            NumRanks = ranks,
            NumExperts = request.NumExperts,
            NumChannels = channels,
            ExpertAlignment = request.ExpertAlignment,
            Epoch = _mesh.NextEpochs(NotifyDispatchRuntime.EpochsUsed),
        });
        long rows = request.NumWorstTokens;
        IReadOnlyList<int> perExpert = [];
        if (hostWaits)
        {
            (int received, int[] list) = _mesh.WaitForRecvCounts(localExperts);
            rows = received;
            perExpert = list;
        }
        DeviceTensor recvSrcIdx = DeviceTensor.Empty(DType.Int32, [rows], Device, Comm);
        var handle = new DispatchHandle(rankPrefix, channelPrefix, recvChannelPrefix, recvSrcIdx, isTokenInRank, sendHead, channels);
        return (handle, perExpert, recvCount, rows);
    }

    /// <summary>The caller's stream for <paramref name="call"/>, after throwing any timeout an earlier kernel recorded.</summary>
    private CudaStream ComputeStream(StreamOptions streams, string call)
    {
        _mesh.ThrowIfTimedOut(call);
        return _order.ComputeStream(streams);
    }

    private void Begin(StreamOptions streams, CudaStream? compute) => _order.Begin(streams, compute);

    private CudaStream OutputStream(StreamOptions streams, CudaStream compute) => _order.OutputStream(streams, compute);

    private EventOverlap Finish(StreamOptions streams, CudaStream compute, IReadOnlyList<DeviceTensor> keepAlive) => _order.Finish(streams, compute, keepAlive);
}
