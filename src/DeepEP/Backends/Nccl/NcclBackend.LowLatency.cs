using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Nccl;

// Low-latency mode (spec §5) over NCCL, byte-identical to the host reference (same packing order). Dispatch reads the
// routing to the host (one bounded wait), all-gathers the counts and masks through the process group, plans the
// transfers (NcclLowLatencyPlan), packs the messages per destination, moves them in one NCCL group and unpacks them
// into the packed layout. Combine sends the rows back in one NCCL group and reduces them; it needs no host wait
// (with masking enabled it all-gathers the masks first). With useLogfmt each row travels as its LogFMT-10 message in
// a slot of LogFmt10.MaxBytes (the sizes NCCL is given are fixed before the encoder runs, so the wire carries whole
// slots: the result is the host's, the bytes are not fewer). Every step runs on the communication stream, ordered after
// the caller's stream. The host waits make the calls not CUDA-graph capturable.
internal sealed partial class NcclBackend
{
    private const string RoutingStep = "low-latency dispatch routing read";
    private const int MessageHeaderBytes = 16;

    private readonly bool _enableShrink;
    private readonly bool[] _maskedRanks;
    private readonly LowLatencyCombineBuffers _lowLatencyBuffers;

    // The device copy of the mask the combine reduction reads, and what it holds.
    private DeviceTensor? _maskDevice;
    private int[] _maskUploaded = [];
    private PinnedHostMemory? _lowLatencyHost;

    public LowLatencyDispatchResult LowLatencyDispatch(LowLatencyDispatchRequest request)
    {
        CudaStream compute = _order.ComputeStream(request.Streams);
        int ranks = NumRanks;
        int localExperts = request.NumExperts / ranks;
        int n = request.NumMaxDispatchTokensPerRank;
        int tokens = checked((int)request.X.Size(0));
        int hidden = checked((int)request.X.Size(1));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        int numScales = hidden / Fp8Cast.ChannelsPerScale;
        // Padded to 16 bytes: messages are read and written in 16-byte words (an FP8 row with an odd number of
        // 128-channel groups, H = 1152, ends 4 bytes off that grid).
        int messageBytes = (int)BufferGeometry.AlignUp(MessageHeaderBytes + (request.UseFp8 ? hidden + (numScales * sizeof(float)) : hidden * sizeof(ushort)), 16);

        int set = _lowLatencyBuffers.Acquire("LowLatencyDispatch");
        (DeviceTensor packedRecvX, DeviceTensor? packedRecvXScales, DeviceTensor packedRecvCount, DeviceTensor srcInfo, DeviceTensor layoutRange) =
            LowLatencyOutputs.Allocate(Device, compute, request, ranks);

        _order.Begin(StreamOptions.Default, compute);

        // The routing on the host: NCCL needs every transfer size before it is enqueued.
        long routingBytes = (long)tokens * numTopk * sizeof(long);
        PinnedHostMemory host = LowLatencyHost(routingBytes);
        if (routingBytes > 0)
        {
            DeviceMemory.CopyAsync(Device, host.HostPointer, request.TopkIdx.Pointer, routingBytes, _comm);
        }
        _countsReady.Record(_comm);
        _nccl.WaitFor(_countsReady, RoutingStep);
        long[] topkIdx = host.AsSpan<long>()[..(tokens * numTopk)].ToArray();

        int[][] records = AllGatherInts(NcclLowLatencyPlan.ExchangeRecord(topkIdx, request.NumExperts, _maskedRanks), "low-latency dispatch count exchange");
        var plan = NcclLowLatencyPlan.Build(topkIdx, numTopk, Rank, request.NumExperts, n, records, _maskedRanks);
        var maskSnapshot = (bool[])_maskedRanks.Clone();
        try
        {
            // Everything queued on the communication stream before the wait has run, so the pinned buffer is free.
            long blobBytes = (long)plan.Blob.Length * sizeof(int);
            host = LowLatencyHost(blobBytes);
            plan.Blob.CopyTo(host.AsSpan<int>());
            plan.DeviceBlob = DeviceTensor.Empty(DType.Int32, [Math.Max(plan.Blob.Length, 1)], Device, _comm);
            DeviceMemory.CopyAsync(Device, plan.DeviceBlob.Pointer, host.HostPointer, blobBytes, _comm);
        }
        catch
        {
            plan.Dispose();
            throw;
        }
        nint blob = plan.DeviceBlob.Pointer;

        var staged = DeviceTensor.Empty(DType.UInt8, [Math.Max((long)plan.TotalSent * messageBytes, 1)], Device, _comm);
        NcclLowLatencyRuntime.LaunchPack(Device, _comm, new NcclLowLatencyPackParams
        {
            X = request.X.Pointer,
            Tokens = blob + (plan.TokensOffset * sizeof(int)),
            Staged = staged.Pointer,
            NumMessages = plan.TotalSent,
            Hidden = hidden,
            MessageBytes = messageBytes,
            UseFp8 = request.UseFp8 ? 1 : 0,
            RoundScale = request.RoundScale ? 1 : 0,
        });
        var received = DeviceTensor.Empty(DType.UInt8, [Math.Max((long)plan.TotalReceived * messageBytes, 1)], Device, _comm);
        _nccl.SendReceive(Transfers(staged.Pointer, plan.SendOffsets, plan.SendCounts, received.Pointer, plan.RecvOffsets, plan.RecvCounts, messageBytes, maskSnapshot),
            _comm, "low-latency dispatch");
        staged.Dispose();

        var unpack = new NcclLowLatencyUnpackParams
        {
            Received = received.Pointer,
            RecvRows = blob + (plan.RecvRowsOffset * sizeof(int)),
            Counts = blob + (plan.CountsOffset * sizeof(int)),
            Layout = blob,
            PackedRecvX = packedRecvX.Pointer,
            PackedRecvXScales = packedRecvXScales?.Pointer ?? 0,
            PackedRecvCount = packedRecvCount.Pointer,
            PackedRecvSrcInfo = srcInfo.Pointer,
            PackedRecvLayoutRange = layoutRange.Pointer,
            CumulativeLocalExpertRecvStats = request.CumulativeLocalExpertRecvStats?.Pointer ?? 0,
            NumMessages = plan.TotalReceived,
            Hidden = hidden,
            MessageBytes = messageBytes,
            RowsPerExpert = plan.RowsPerExpert,
            NumLocalExperts = localExperts,
            NumRanks = ranks,
            UseFp8 = request.UseFp8 ? 1 : 0,
            UseUe8m0 = request.UseUe8m0 ? 1 : 0,
        };
        void Receive()
        {
            NcclLowLatencyRuntime.LaunchUnpack(Device, _comm, unpack);
            received.Dispose();
            if (request.CountsAsPrefixSums)
            {
                InclusiveScanRuntime.Launch(packedRecvCount, _comm);
            }
        }
        (EventOverlap done, Action? hook) = Complete(set, compute, request.Streams.AsyncFinish, request.ReturnRecvHook, Receive,
            [request.X, request.TopkIdx, packedRecvX, packedRecvCount, srcInfo, layoutRange]);
        var handle = new LowLatencyHandle(srcInfo, layoutRange, n, hidden, request.NumExperts) { BackendState = plan };
        return new LowLatencyDispatchResult(packedRecvX, packedRecvXScales, packedRecvCount, handle, done, hook);
    }

    public LowLatencyCombineResult LowLatencyCombine(LowLatencyCombineRequest request)
    {
        LowLatencyHandle handle = request.Handle;
        if (handle.BackendState is not NcclLowLatencyPlan plan || plan.DeviceBlob is null)
        {
            throw new InvalidOperationException("This low-latency handle was not made by a dispatch of an NCCL-backend buffer; combine with the buffer that dispatched.");
        }
        CudaStream compute = _order.ComputeStream(request.Streams);
        int hidden = handle.Hidden;
        int numTokens = checked((int)request.TopkIdx.Size(0));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        if ((long)numTokens * numTopk != plan.RecvRowsOffset - plan.SlotsOffset)
        {
            throw new InvalidOperationException($"topkIdx is {request.TopkIdx.Describe()}, but the dispatch of this handle routed a different number of (token, slot) pairs; pass the dispatch's topkIdx.");
        }
        bool logfmt = request.UseLogfmt;
        if (logfmt)
        {
            LogFmtCodecRuntime.CheckCombineHidden(hidden);
        }
        long rowBytes = logfmt ? LogFmt10.MaxBytes(hidden) : hidden * sizeof(ushort);
        int set = _lowLatencyBuffers.Acquire("LowLatencyCombine");
        DeviceTensor combined = request.Out ?? DeviceTensor.Empty(DType.BFloat16, [numTokens, hidden], Device, compute);
        DeviceTensor source = request.ZeroCopy
            ? _lowLatencyBuffers.CombineSendBuffer(set, plan.NumLocalExperts, plan.RowsPerExpert, hidden)
            : request.X;
        if (_enableShrink)
        {
            NcclLowLatencyPlan.MergeMasks(Rank, AllGatherInts(Array.ConvertAll(_maskedRanks, m => m ? 1 : 0), "low-latency combine mask exchange"), _maskedRanks);
        }
        var maskSnapshot = (bool[])_maskedRanks.Clone();
        _order.Begin(StreamOptions.Default, compute);
        nint masked = UploadMask(maskSnapshot);
        nint blob = plan.DeviceBlob.Pointer;

        var staged = DeviceTensor.Empty(DType.UInt8, [Math.Max(plan.TotalReceived * rowBytes, 1)], Device, _comm);
        NcclLowLatencyRuntime.LaunchGather(Device, _comm, logfmt, new NcclLowLatencyGatherParams
        {
            X = source.Pointer,
            Rows = blob + (plan.RecvRowsOffset * sizeof(int)),
            Staged = staged.Pointer,
            ExpertStride = source.Stride(0),
            RowStride = source.Stride(1),
            NumRows = plan.TotalReceived,
            Hidden = hidden,
            RowsPerExpert = plan.RowsPerExpert,
        });
        var received = DeviceTensor.Empty(DType.UInt8, [Math.Max(plan.TotalSent * rowBytes, 1)], Device, _comm);
        _nccl.SendReceive(Transfers(staged.Pointer, plan.RecvOffsets, plan.RecvCounts, received.Pointer, plan.SendOffsets, plan.SendCounts, rowBytes, maskSnapshot),
            _comm, "low-latency combine");
        staged.Dispose();

        var reduce = new NcclLowLatencyReduceParams
        {
            Received = received.Pointer,
            Slots = blob + (plan.SlotsOffset * sizeof(int)),
            TopkIdx = request.TopkIdx.Pointer,
            TopkWeights = request.TopkWeights.Pointer,
            Masked = masked,
            CombinedX = combined.Pointer,
            NumTokens = numTokens,
            NumTopk = numTopk,
            Hidden = hidden,
            NumExperts = handle.NumExperts,
            NumLocalExperts = plan.NumLocalExperts,
        };
        void Receive()
        {
            NcclLowLatencyRuntime.LaunchReduce(Device, _comm, logfmt, reduce);
            received.Dispose();
        }
        (EventOverlap done, Action? hook) = Complete(set, compute, request.Streams.AsyncFinish, request.ReturnRecvHook, Receive,
            [request.X, request.TopkIdx, request.TopkWeights, combined]);
        return new LowLatencyCombineResult(combined, done, hook);
    }

    public DeviceTensor GetNextLowLatencyCombineBuffer(LowLatencyHandle handle) =>
        _lowLatencyBuffers.NextCombineSendBuffer(handle.NumExperts / NumRanks, NumRanks * handle.NumMaxDispatchTokensPerRank, handle.Hidden);

    /// <summary>A barrier over the process group; receives whose hooks have not run are discarded.</summary>
    public void CleanLowLatencyBuffer(int numMaxDispatchTokensPerRank, int hidden, int numExperts, StreamOptions streams)
    {
        CudaStream compute = _order.ComputeStream(streams);
        _order.Begin(streams, compute);
        _countsReady.Record(_comm);
        _nccl.WaitFor(_countsReady, "low-latency buffer clean");
        _group.Barrier(_nccl.Timeout);
        _lowLatencyBuffers.DiscardPendingReceives();
    }

    public void UpdateMaskBuffer(int rankToMask, bool mask, StreamOptions streams) => _maskedRanks[rankToMask] = mask;

    public void QueryMaskBuffer(DeviceTensor maskStatus, StreamOptions streams)
    {
        CudaStream compute = _order.ComputeStream(streams);
        for (int r = 0; r < _maskedRanks.Length; r++)
        {
            DeviceMemory.Fill32(Device, maskStatus.Pointer + (r * sizeof(int)), _maskedRanks[r] ? 1 : 0, 1, compute);
        }
    }

    public void CleanMaskBuffer(StreamOptions streams) => Array.Clear(_maskedRanks);

    /// <summary>
    /// The receive step now (on the communication stream, then asyncFinish's event or the caller's stream waits), or in
    /// a hook that runs it later; the caller's stream waits for the send step either way, so it may free the inputs.
    /// </summary>
    private (EventOverlap Done, Action? Hook) Complete(int set, CudaStream compute, bool asyncFinish, bool returnRecvHook, Action receive, IReadOnlyList<DeviceTensor> keepAlive)
    {
        if (returnRecvHook)
        {
            _order.Finish(StreamOptions.Default, compute, []);
            return (EventOverlap.None, _lowLatencyBuffers.DeferReceive(set, () =>
            {
                _order.Begin(StreamOptions.Default, compute);
                receive();
                _order.Finish(StreamOptions.Default, compute, []);
            }));
        }
        receive();
        return (_order.Finish(new StreamOptions(null, asyncFinish, false, null), compute, keepAlive), null);
    }

    // One send and one receive per unmasked peer with rows, in rank order on every rank.
    private static List<NcclTransfer> Transfers(nint send, long[] sendOffsets, long[] sendCounts, nint recv, long[] recvOffsets, long[] recvCounts, long rowBytes, bool[] masked)
    {
        var transfers = new List<NcclTransfer>(2 * masked.Length);
        for (int peer = 0; peer < masked.Length; peer++)
        {
            if (masked[peer])
            {
                continue;
            }
            transfers.Add(NcclTransfer.Send(peer, send + (nint)(sendOffsets[peer] * rowBytes), sendCounts[peer] * rowBytes));
            transfers.Add(NcclTransfer.Receive(peer, recv + (nint)(recvOffsets[peer] * rowBytes), recvCounts[peer] * rowBytes));
        }
        return transfers;
    }

    private int[][] AllGatherInts(int[] record, string step)
    {
        byte[][] gathered = _group.AllGather(MemoryMarshal.AsBytes(record.AsSpan()).ToArray(), _nccl.Timeout);
        return Array.ConvertAll(gathered, bytes => bytes.Length == record.Length * sizeof(int)
            ? MemoryMarshal.Cast<byte, int>(bytes).ToArray()
            : throw new InvalidOperationException($"The ranks disagree on the geometry of {step} ({bytes.Length} vs {record.Length * sizeof(int)} bytes); every rank must pass the same numExperts."));
    }

    // The [R] mask the combine reduction reads, rewritten on the communication stream where it changed.
    private nint UploadMask(bool[] masked)
    {
        if (_maskDevice is null)
        {
            _maskDevice = DeviceTensor.Empty(DType.Int32, [masked.Length], Device, _comm);
            _maskUploaded = new int[masked.Length];
            DeviceMemory.Fill32(Device, _maskDevice.Pointer, 0, masked.Length, _comm);
        }
        for (int r = 0; r < masked.Length; r++)
        {
            int value = masked[r] ? 1 : 0;
            if (_maskUploaded[r] != value)
            {
                DeviceMemory.Fill32(Device, _maskDevice.Pointer + (r * sizeof(int)), value, 1, _comm);
                _maskUploaded[r] = value;
            }
        }
        return _maskDevice.Pointer;
    }

    private PinnedHostMemory LowLatencyHost(long bytes)
    {
        if (_lowLatencyHost is null || _lowLatencyHost.Bytes < bytes)
        {
            _lowLatencyHost?.Dispose();
            _lowLatencyHost = PinnedHostMemory.Allocate(Device, Math.Max(bytes, 4096));
        }
        return _lowLatencyHost;
    }

    private void DisposeLowLatency()
    {
        _lowLatencyBuffers.Dispose();
        _maskDevice?.Dispose();
        _lowLatencyHost?.Dispose();
    }
}
