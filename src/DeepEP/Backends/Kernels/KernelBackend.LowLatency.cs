using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Kernels;

// Low-latency mode (spec §5): a send kernel and a receive kernel per operation, on the communication stream, or with
// a hook the send on the caller's stream now and the receive on the same stream when the hook runs. No host
// synchronisation anywhere, so the calls capture into CUDA graphs.
internal sealed partial class KernelBackend
{
    // True while an asyncFinish low-latency operation may still be running on the communication stream.
    private bool _lowLatencyOnComm;

    public LowLatencyDispatchResult LowLatencyDispatch(LowLatencyDispatchRequest request)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(request.Streams, "low-latency dispatch");
        int ranks = _mesh.NumRanks;
        int n = request.NumMaxDispatchTokensPerRank;
        int hidden = checked((int)request.X.Size(1));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        var layout = new LowLatencyLayout(n, hidden, request.NumExperts);
        CheckLowLatencyFits(layout, numTopk, request.UseFp8);
        ll.LastLayout = layout;
        (DeviceTensor packedRecvX, DeviceTensor? packedRecvXScales, DeviceTensor packedRecvCount, DeviceTensor srcInfo, DeviceTensor layoutRange) =
            LowLatencyOutputs.Allocate(Device, compute, request, ranks);

        int set = ll.Sets.Acquire("LowLatencyDispatch");
        var p = new LowLatencyDispatchParams
        {
            Call = Call(ll, layout, set, checked((int)request.X.Size(0)), numTopk),
            X = request.X.Pointer,
            TopkIdx = request.TopkIdx.Pointer,
            PackedRecvX = packedRecvX.Pointer,
            PackedRecvXScales = packedRecvXScales?.Pointer ?? 0,
            PackedRecvCount = packedRecvCount.Pointer,
            PackedRecvSrcInfo = srcInfo.Pointer,
            PackedRecvLayoutRange = layoutRange.Pointer,
            CumulativeLocalExpertRecvStats = request.CumulativeLocalExpertRecvStats?.Pointer ?? 0,
            DispatchWaitRecvCostStats = request.DispatchWaitRecvCostStats?.Pointer ?? 0,
            SourceStride = layout.DispatchSourceBytes(numTopk, request.UseFp8),
        };
        void Send(CudaStream stream) => LowLatencyDispatchRuntime.LaunchSend(Device, _mesh.Share, stream, hidden, request.UseFp8, request.RoundScale, p);
        void Receive(CudaStream stream)
        {
            LowLatencyDispatchRuntime.LaunchRecv(Device, _mesh.Share, stream, hidden, request.UseFp8, request.UseUe8m0, p);
            ScanCounts(stream);
        }
        void Both(CudaStream stream)
        {
            LowLatencyDispatchRuntime.Launch(Device, _mesh.Share, stream, hidden, request.UseFp8, request.RoundScale, request.UseUe8m0, p);
            ScanCounts(stream);
        }
        void ScanCounts(CudaStream stream)
        {
            if (request.CountsAsPrefixSums)
            {
                InclusiveScanRuntime.Launch(packedRecvCount, stream);
            }
        }
        (EventOverlap done, Action? hook) = RunLowLatency(ll, set, compute, request.Streams.AsyncFinish, request.ReturnRecvHook, Send, Receive, Both,
            [request.X, request.TopkIdx, packedRecvX, packedRecvCount, srcInfo, layoutRange]);
        var handle = new LowLatencyHandle(srcInfo, layoutRange, n, hidden, request.NumExperts);
        return new LowLatencyDispatchResult(packedRecvX, packedRecvXScales, packedRecvCount, handle, done, hook);
    }

    public LowLatencyCombineResult LowLatencyCombine(LowLatencyCombineRequest request)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(request.Streams, "low-latency combine");
        LowLatencyHandle handle = request.Handle;
        int hidden = handle.Hidden;
        int numTokens = checked((int)request.TopkIdx.Size(0));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        if (numTopk > KernelLimits.MaxTopk)
        {
            throw new ArgumentException($"topkIdx has {numTopk} slots per token; low-latency combine supports at most {KernelLimits.MaxTopk}.", nameof(request));
        }
        bool logfmt = request.UseLogfmt;
        if (logfmt)
        {
            LogFmtCodecRuntime.CheckCombineHidden(hidden);
        }
        var layout = new LowLatencyLayout(handle.NumMaxDispatchTokensPerRank, hidden, handle.NumExperts);
        DeviceTensor combined = request.Out ?? DeviceTensor.Empty(DType.BFloat16, [numTokens, hidden], Device, compute);

        // Zero-copy reads the expert outputs from the send area GetNextLowLatencyCombineBuffer handed out for this set.
        int set = ll.Sets.Acquire("LowLatencyCombine");
        DeviceTensor source = request.ZeroCopy ? CombineSendView(ll, layout, set) : request.X;
        var p = new LowLatencyCombineParams
        {
            Call = Call(ll, layout, set, numTokens, numTopk),
            X = source.Pointer,
            SrcInfo = handle.PackedRecvSrcInfo.Pointer,
            LayoutRange = handle.PackedRecvLayoutRange.Pointer,
            TopkIdx = request.TopkIdx.Pointer,
            TopkWeights = request.TopkWeights.Pointer,
            CombinedX = combined.Pointer,
            CombineWaitRecvCostStats = request.CombineWaitRecvCostStats?.Pointer ?? 0,
            XExpertStride = source.Stride(0),
            XRowStride = source.Stride(1),
        };
        void Send(CudaStream stream) => LowLatencyCombineRuntime.LaunchSend(Device, _mesh.Share, stream, hidden, logfmt, p);
        void Receive(CudaStream stream) => LowLatencyCombineRuntime.LaunchRecv(Device, _mesh.Share, stream, hidden, logfmt, p);
        void Both(CudaStream stream) => LowLatencyCombineRuntime.Launch(Device, _mesh.Share, stream, hidden, logfmt, p);
        (EventOverlap done, Action? hook) = RunLowLatency(ll, set, compute, request.Streams.AsyncFinish, request.ReturnRecvHook, Send, Receive, Both,
            [request.X, request.TopkIdx, request.TopkWeights, combined]);
        return new LowLatencyCombineResult(combined, done, hook);
    }

    // What both low-latency kernels are told about the call on `set` (the base of their parameter blocks).
    private LowLatencyCall Call(LowLatencyResources ll, LowLatencyLayout layout, int set, int numTokens, int numTopk) => new()
    {
        Buffers = ll.Buffer.Peers,
        Control = ll.Control,
        Diagnostics = _mesh.Diagnostics,
        SignalOffset = layout.SignalOffset(set),
        RecvOffset = layout.RecvOffset(set),
        TimeoutNs = _mesh.TimeoutNs,
        NumTokens = numTokens,
        NumMaxTokens = layout.NumMaxDispatchTokensPerRank,
        NumTopk = numTopk,
        NumExperts = layout.NumExperts,
        Rank = _mesh.Rank,
        NumRanks = _mesh.NumRanks,
        Set = set,
        Shrink = ll.Shrink ? 1 : 0,
    };

    public DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle)
    {
        LowLatencyResources ll = RequireLowLatency();
        var layout = new LowLatencyLayout(handle.NumMaxDispatchTokensPerRank, handle.Hidden, handle.NumExperts);
        return CombineSendView(ll, layout, ll.Sets.CurrentSet);
    }

    public void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts, StreamOptions streams)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(streams, "clean low-latency buffer");
        var layout = new LowLatencyLayout(numMaxDispatchTokensPerRank, hidden, numExperts);
        nint mask = ll.Shrink ? ll.Mask : 0;
        Begin(streams, compute);
        _mesh.Barrier(mask);
        DeviceMemory.Fill(Device, ll.Buffer.Local + (nint)layout.SignalOffset(0), 0, LowLatencyLayout.NumSets * layout.SignalBytes, Comm);
        _mesh.Barrier(mask);
        Finish(streams, compute, []);
        ll.Sets.DiscardPendingReceives();
    }

    public void UpdateMaskBuffer(int rankToMask, bool mask, StreamOptions streams)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(streams, "update mask buffer");
        DeviceMemory.Fill32(Device, ll.Mask + (rankToMask * sizeof(int)), mask ? 1 : 0, 1, compute);
    }

    public void QueryMaskBuffer(DeviceTensor maskStatus, StreamOptions streams)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(streams, "query mask buffer");
        DeviceMemory.CopyAsync(Device, maskStatus.Pointer, ll.Mask, _mesh.NumRanks * sizeof(int), compute);
    }

    public void CleanMaskBuffer(StreamOptions streams)
    {
        LowLatencyResources ll = RequireLowLatency();
        CudaStream compute = ComputeStream(streams, "clean mask buffer");
        DeviceMemory.Fill32(Device, ll.Mask, 0, _mesh.NumRanks, compute);
    }

    private LowLatencyResources RequireLowLatency() =>
        _lowLatency ?? throw new InvalidOperationException(
            "This kernels-backend buffer has no low-latency buffer: create the EpBuffer with lowLatencyMode: true and numRdmaBytes from EpBuffer.GetLowLatencyRdmaSizeHint.");

    /// <summary>The kernels' dispatch areas must fit the receive area DeepEP's hint reserves (they do for H ≥ 2048 at any K ≤ 11).</summary>
    private void CheckLowLatencyFits(LowLatencyLayout layout, int numTopk, bool useFp8)
    {
        long needed = _mesh.NumRanks * layout.DispatchSourceBytes(numTopk, useFp8);
        if (needed > layout.RecvBytes)
        {
            throw new NotSupportedException(
                $"Low-latency dispatch of H = {layout.Hidden}, K = {numTopk}, E = {layout.NumExperts} needs {needed} bytes of receive area per set, more than the {layout.RecvBytes} the buffer layout reserves; use more experts or a larger hidden size.");
        }
        // The receive phase keeps one (source, token) int per packed row in shared memory, the token in 16 bits.
        long selectionBytes = (long)_mesh.NumRanks * layout.NumMaxDispatchTokensPerRank * sizeof(int);
        if (layout.NumMaxDispatchTokensPerRank > ushort.MaxValue || selectionBytes > LowLatencyKernels.MaxSharedMemoryBytes)
        {
            throw new NotSupportedException(
                $"numMaxDispatchTokensPerRank ({layout.NumMaxDispatchTokensPerRank}) with {_mesh.NumRanks} ranks is too large for the kernels backend's receive phase: " +
                $"R*N must be at most {LowLatencyKernels.MaxSharedMemoryBytes / sizeof(int)} and N at most {ushort.MaxValue}.");
        }
    }

    private DeviceTensor CombineSendView(LowLatencyResources ll, LowLatencyLayout layout, int set)
    {
        int localExperts = layout.NumExperts / _mesh.NumRanks;
        long rows = (long)_mesh.NumRanks * layout.NumMaxDispatchTokensPerRank;
        return DeviceTensor.FromPointer(ll.Buffer.Local + (nint)layout.SendOffset(set), [localExperts, rows, layout.Hidden], DType.BFloat16, Device,
            [rows * layout.SendRowElements, layout.SendRowElements, 1]);
    }

    /// <summary>
    /// Spec §5.3 streams: with a hook, the send runs on the caller's stream now and the hook runs the receive there
    /// later. Otherwise both phases run as one cooperative launch: with asyncFinish on the communication stream after
    /// the caller's work, an event marking the end; without it on the caller's stream directly: what the caller observes is the same as a hop to the
    /// communication stream and back, minus two event round trips (a few microseconds per call).
    /// </summary>
    private (EventOverlap Done, Action? Hook) RunLowLatency(LowLatencyResources ll, int set, CudaStream compute, bool asyncFinish, bool returnRecvHook,
        Action<CudaStream> send, Action<CudaStream> receive, Action<CudaStream> both, IReadOnlyList<DeviceTensor> keepAlive)
    {
        if (_lowLatencyOnComm && !asyncFinish)
        {
            // An earlier asyncFinish operation may still run on the communication stream; later ones must follow it.
            _order.Finish(StreamOptions.Default, compute, []);
            _lowLatencyOnComm = false;
        }
        if (returnRecvHook)
        {
            send(compute);
            return (EventOverlap.None, ll.Sets.DeferReceive(set, () =>
            {
                _mesh.ThrowIfTimedOut("low-latency receive hook");
                receive(compute);
            }));
        }
        if (!asyncFinish)
        {
            both(compute);
            return (EventOverlap.None, null);
        }
        var streams = new StreamOptions(null, AsyncFinish: true, false, null);
        Begin(streams, compute);
        _lowLatencyOnComm = true;
        both(Comm);
        return (Finish(streams, compute, keepAlive), null);
    }
}
