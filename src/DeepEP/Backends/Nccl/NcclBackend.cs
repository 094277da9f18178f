using System.Runtime.CompilerServices;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends.Nccl;

/// <summary>
/// Normal mode over NCCL point-to-point transfers, for any topology NCCL reaches (NVLink, PCIe, InfiniBand, RoCE,
/// sockets; one host or many). Dispatch packs each token into a per-destination staging buffer in receive order and
/// sends every block in one NCCL group, receiving straight into the outputs; combine sends the blocks back and reduces
/// them in rank order. Results are bit-identical to the host reference.
/// </summary>
/// <remarks>
/// <para>Every non-cached dispatch synchronises the host (the count exchange decides the transfer sizes), with
/// <c>numWorstTokens</c> too, so this backend is not CUDA-graph capturable. Cached dispatch and combine reuse the
/// counts remembered for the handle and do not synchronise.</para>
/// <para>Every host wait is bounded by the buffer's timeout; on expiry or a peer's failure the communicator is aborted
/// and the buffer is unusable. Ranks may be threads of one process or processes on one or several hosts.</para>
/// <para>Low-latency mode (NcclBackend.LowLatency.cs) waits on the host in every dispatch as well, so it is not
/// CUDA-graph capturable either; its results are byte-identical to the host reference.</para>
/// </remarks>
internal sealed partial class NcclBackend : IEpBackend
{
    private const string CountStep = "dispatch count exchange";

    private readonly ProcessGroup _group;
    private readonly NcclCommunicator _nccl;
    private readonly CudaStream _comm;
    private readonly CommStreamOrder _order;
    private readonly CudaEvent _countsReady;

    // The blocks of every handle this buffer made, so cached dispatch and combine need no device-to-host copy.
    private readonly ConditionalWeakTable<DispatchHandle, NcclBlocks> _handleBlocks = new();
    private PinnedHostMemory? _counts;

    public NcclBackend(ProcessGroup group, EpBufferOptions options)
    {
        _group = group;
        Device = BackendFactory.ResolveDevice(group, options);
        TimeSpan timeout = options.Timeout ?? EpEnvironment.Current.Timeout;
        RequireOneRankPerGpu(RankIdentity.AllGather(group, CudaDevice.Get(Device)));
        _nccl = options.NcclCommunicator != 0
            ? NcclCommunicator.Adopt(options.NcclCommunicator, group, Device, timeout, CommunicationTimeoutException.ForNccl)
            : NcclCommunicator.Create(group, Device, timeout, CommunicationTimeoutException.ForNccl);
        _comm = CudaStream.CreateHighPriority(Device);
        _order = new CommStreamOrder(_comm);
        _countsReady = new CudaEvent(Device);
        _enableShrink = options.EnableShrink;
        _maskedRanks = new bool[group.Size];
        _lowLatencyBuffers = new LowLatencyCombineBuffers(Device);
    }

    public EpBackendKind Kind => EpBackendKind.Nccl;

    /// <summary>NCCL fails (or hangs) creating a communicator with two ranks on one GPU: say so first, on every rank.</summary>
    internal static void RequireOneRankPerGpu(RankIdentity[] ranks)
    {
        IGrouping<Guid, int>? shared = Enumerable.Range(0, ranks.Length).GroupBy(r => ranks[r].Gpu).FirstOrDefault(g => g.Count() > 1);
        if (shared is not null)
        {
            throw new NotSupportedException(
                $"The nccl backend needs one GPU per rank (NCCL refuses two ranks on one GPU), but ranks {string.Join(", ", shared)} share {ranks[shared.First()].Describe()}. " +
                "Give each rank its own GPU (EpBufferOptions.Device, CUDA_VISIBLE_DEVICES), or use the kernels backend (DEEPEP_BACKEND=kernels), which runs several ranks on one GPU.");
        }
    }

    public int Device { get; }

    // NCCL allows one rank per GPU, so this rank has the whole GPU.
    public int SmBudget => CudaDevice.Get(Device).MultiprocessorCount;

    /// <inheritdoc />
    public CudaStream? CommStream => _comm;

    private int NumRanks => _group.Size;

    private int Rank => _group.Rank;

    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts, StreamOptions streams) =>
        DeviceDispatchLayout.Compute(_order, topkIdx, numExperts, NumRanks, streams);

    /// <inheritdoc />
    public DeviceTensor CombineInputBuffer(long rows, long hidden, StreamOptions streams) =>
        DeviceTensor.Empty(DType.BFloat16, [rows, hidden], Device, _order.ComputeStream(streams));

    public DispatchResult Dispatch(NormalDispatchRequest request)
    {
        CudaStream compute = _order.ComputeStream(request.Streams);
        CudaStream outputs = _order.OutputStream(request.Streams, compute);
        DeviceTensor x = request.X;
        int tokens = request.NumTokens;
        int numScales = request.NumScales;
        int numTopk = request.NumTopk;
        DispatchHandle? handle = request.Handle;
        IReadOnlyList<int> perExpertList = [];
        NcclBlocks blocks;
        long rows;
        if (handle is null)
        {
            _order.Begin(request.Streams, compute);
            (handle, blocks, perExpertList) = ExchangeCounts(request, tokens);
            rows = request.NumWorstTokens > 0 ? request.NumWorstTokens : blocks.TotalRecvRows;
        }
        else
        {
            blocks = BlocksOf(handle, request.Streams, compute);
            rows = handle.NumRecvTokens;
        }

        long rowBytes = x.Size(1) * x.DType.ElementSize();
        DeviceTensor recvX = DeviceTensor.Empty(x.DType, [rows, x.Size(1)], Device, outputs);
        DeviceTensor? recvScales = numScales == 0 ? null : DeviceTensor.Empty(request.XScales!.DType, [rows, numScales], Device, outputs);
        DeviceTensor? recvTopkIdx = numTopk == 0 ? null : DeviceTensor.Empty(DType.Int64, [rows, numTopk], Device, outputs);
        DeviceTensor? recvTopkWeights = numTopk == 0 ? null : DeviceTensor.Empty(DType.Float32, [rows, numTopk], Device, outputs);
        // One wait covers the caller's work and these allocations (see KernelBackend.Dispatch).
        _order.Begin(request.Streams, outputs == _comm && request.Handle is null ? null : compute);

        long staged = blocks.TotalSendRows;
        using DeviceTensor stagedX = DeviceTensor.Empty(DType.UInt8, [staged, rowBytes], Device, _comm);
        using DeviceTensor? stagedScales = numScales == 0 ? null : DeviceTensor.Empty(DType.Int32, [staged, numScales], Device, _comm);
        using DeviceTensor? stagedSrcIdx = request.Handle is null ? DeviceTensor.Empty(DType.Int32, [staged], Device, _comm) : null;
        using DeviceTensor? stagedTopkIdx = numTopk == 0 ? null : DeviceTensor.Empty(DType.Int64, [staged, numTopk], Device, _comm);
        using DeviceTensor? stagedTopkWeights = numTopk == 0 ? null : DeviceTensor.Empty(DType.Float32, [staged, numTopk], Device, _comm);
        NcclStagingRuntime.LaunchPack(Device, _comm, new NcclPackParams
        {
            Source = request.Source(handle, NumRanks),
            StagedX = stagedX.Pointer,
            StagedXScales = stagedScales?.Pointer ?? 0,
            StagedSrcIdx = stagedSrcIdx?.Pointer ?? 0,
            StagedTopkIdx = stagedTopkIdx?.Pointer ?? 0,
            StagedTopkWeights = stagedTopkWeights?.Pointer ?? 0,
            NumRanks = NumRanks,
            NumChannels = handle.NumChannels,
            RowWords = checked((int)(rowBytes / 16)),
        });

        // Tensors in the same order on every rank: NCCL matches a peer's sends and receives in issue order.
        var transfers = new List<NcclTransfer>();
        for (int peer = 0; peer < NumRanks; peer++)
        {
            blocks.AddForward(transfers, peer, stagedX.Pointer, recvX.Pointer, rowBytes);
            if (recvScales is not null)
            {
                blocks.AddForward(transfers, peer, stagedScales!.Pointer, recvScales.Pointer, numScales * sizeof(int));
            }
            if (stagedSrcIdx is not null)
            {
                blocks.AddForward(transfers, peer, stagedSrcIdx.Pointer, handle.RecvSrcIdx.Pointer, sizeof(int));
            }
            if (recvTopkIdx is not null)
            {
                blocks.AddForward(transfers, peer, stagedTopkIdx!.Pointer, recvTopkIdx.Pointer, numTopk * sizeof(long));
                blocks.AddForward(transfers, peer, stagedTopkWeights!.Pointer, recvTopkWeights!.Pointer, numTopk * sizeof(float));
            }
        }
        _nccl.SendReceive(transfers, _comm, "dispatch");
        long real = blocks.TotalRecvRows;
        if (recvTopkIdx is not null && rows > real)
        {
            // Spec §2.6: padding rows are marked by -1 top-k indices (all bytes 0xFF); the rest stays uninitialised.
            recvTopkIdx.Slice(real, rows - real).FillBytes(0xFF, _comm);
        }
        EventOverlap done = _order.Finish(request.Streams, compute, [x, recvX]);
        if (request.Handle is not null)
        {
            return new DispatchResult(recvX, recvScales, null, null, [], null, done);
        }
        return new DispatchResult(recvX, recvScales, recvTopkIdx, recvTopkWeights, perExpertList, handle, done);
    }

    public CombineResult Combine(NormalCombineRequest request)
    {
        CudaStream compute = _order.ComputeStream(request.Streams);
        DispatchHandle handle = request.Handle;
        int tokens = checked((int)handle.NumTokens);
        long hidden = request.X.Size(1);
        long rowBytes = hidden * sizeof(ushort);
        int numTopk = request.NumTopk;
        CudaStream outputs = _order.OutputStream(request.Streams, compute);
        DeviceTensor combined = DeviceTensor.Empty(DType.BFloat16, [tokens, hidden], Device, outputs);
        DeviceTensor? combinedWeights = numTopk == 0 ? null : DeviceTensor.Empty(DType.Float32, [tokens, numTopk], Device, outputs);
        NcclBlocks blocks = BlocksOf(handle, request.Streams, compute);
        _order.Begin(request.Streams, compute);
        // Upstream rewrites send_head before every combine (spec §2.5); the reduction only reads selected entries.
        IntranodeCombineRuntime.LaunchRewriteSendHead(Device, _comm, new RewriteSendHeadParams
        {
            SendHead = handle.SendHead.Pointer,
            NumTokens = tokens,
            NumRanks = NumRanks,
            NumChannels = handle.NumChannels,
        });

        long staged = blocks.TotalSendRows;
        using DeviceTensor receivedX = DeviceTensor.Empty(DType.BFloat16, [staged, hidden], Device, _comm);
        using DeviceTensor? receivedWeights = numTopk == 0 ? null : DeviceTensor.Empty(DType.Float32, [staged, numTopk], Device, _comm);
        var transfers = new List<NcclTransfer>();
        for (int peer = 0; peer < NumRanks; peer++)
        {
            blocks.AddBackward(transfers, peer, request.X.Pointer, receivedX.Pointer, rowBytes);
            if (receivedWeights is not null)
            {
                blocks.AddBackward(transfers, peer, request.TopkWeights!.Pointer, receivedWeights.Pointer, numTopk * sizeof(float));
            }
        }
        _nccl.SendReceive(transfers, _comm, "combine");
        NcclStagingRuntime.LaunchReduce(Device, _comm, new NcclReduceParams
        {
            Target = request.Target(combined, combinedWeights, NumRanks),
            ReceivedX = receivedX.Pointer,
            ReceivedTopkWeights = receivedWeights?.Pointer ?? 0,
            RowWords = checked((int)(rowBytes / 16)),
        });
        return new CombineResult(combined, combinedWeights, _order.Finish(request.Streams, compute, [request.X, combined]));
    }

    /// <summary>Waits (bounded) for this rank's queued work, then finalises the communicator collectively.</summary>
    public void Dispose()
    {
        try
        {
            _countsReady.Record(_comm);
            _nccl.WaitFor(_countsReady, "buffer disposal");
        }
        finally
        {
            _nccl.Dispose();
            _countsReady.Dispose();
            _order.Dispose();
            _comm.Dispose();
            _counts?.Dispose();
            DisposeLowLatency();
        }
    }


    /// <summary>
    /// Spec §2.8 over NCCL: channel layout, an all-gather of every rank's counts, one bounded host wait, then the handle.
    /// Throws on every rank together when a rank's counts are inconsistent or exceed <c>numWorstTokens</c>.
    /// </summary>
    private (DispatchHandle Handle, NcclBlocks Blocks, IReadOnlyList<int> PerExpert) ExchangeCounts(NormalDispatchRequest request, int tokens)
    {
        int ranks = NumRanks;
        int channels = request.Config.NumChannels;
        int experts = request.NumExperts;
        DeviceTensor isTokenInRank = request.IsTokenInRank!;
        DeviceTensor sendHead = DeviceTensor.Empty(DType.Int32, [tokens, ranks], Device, _comm);
        int recordLength = NcclDispatchCounts.RecordLength(ranks, experts, channels);
        using DeviceTensor record = DeviceTensor.Empty(DType.Int32, [recordLength], Device, _comm);
        using DeviceTensor gathered = DeviceTensor.Empty(DType.Int32, [ranks * recordLength], Device, _comm);
        DispatchLayoutRuntime.LaunchChannelLayout(Device, _comm, new ChannelLayoutParams
        {
            IsTokenInRank = isTokenInRank.Pointer,
            SendHead = sendHead.Pointer,
            ChannelCounts = record.Pointer + ((ranks + experts) * sizeof(int)),
            NumTokens = tokens,
            NumRanks = ranks,
            NumChannels = channels,
        });
        DeviceMemory.CopyAsync(Device, record.Pointer, request.NumTokensPerRank!.Pointer, ranks * sizeof(int), _comm);
        DeviceMemory.CopyAsync(Device, record.Pointer + (ranks * sizeof(int)), request.NumTokensPerExpert!.Pointer, experts * sizeof(int), _comm);
        _nccl.AllGather(record.Pointer, gathered.Pointer, recordLength * sizeof(int), _comm, CountStep);
        PinnedHostMemory host = HostCounts(gathered.ByteSize);
        DeviceMemory.CopyAsync(Device, host.HostPointer, gathered.Pointer, gathered.ByteSize, _comm);
        _countsReady.Record(_comm);
        _nccl.WaitFor(_countsReady, CountStep);

        var counts = NcclDispatchCounts.Parse(host.AsSpan<int>()[..(ranks * recordLength)], ranks, experts, channels, Rank);
        if (request.NumWorstTokens > 0)
        {
            int[] tooMany = Enumerable.Range(0, ranks).Where(r => counts.ReceivedRows(ranks, r) > request.NumWorstTokens).ToArray();
            if (tooMany.Length > 0)
            {
                throw new InvalidOperationException(
                    $"Rank(s) {string.Join(", ", tooMany)} receive more than numWorstTokens = {request.NumWorstTokens} tokens (rank {tooMany[0]}: {counts.ReceivedRows(ranks, tooMany[0])}); raise numWorstTokens.");
            }
        }
        long rows = request.NumWorstTokens > 0 ? request.NumWorstTokens : counts.Blocks.TotalRecvRows;
        var handle = new DispatchHandle(
            DeviceTensor.FromArray<int>(counts.RankPrefixMatrix, [ranks, ranks], Device),
            DeviceTensor.FromArray<int>(counts.ChannelPrefixMatrix, [ranks, channels], Device),
            DeviceTensor.FromArray<int>(counts.RecvChannelPrefixMatrix, [ranks, channels], Device),
            DeviceTensor.Empty(DType.Int32, [rows], Device, _comm),
            isTokenInRank,
            sendHead,
            channels);
        _handleBlocks.AddOrUpdate(handle, counts.Blocks);
        IReadOnlyList<int> perExpert = request.NumWorstTokens > 0
            ? []
            : Array.ConvertAll(counts.RecvTokensPerLocalExpert, n => checked((n + request.ExpertAlignment - 1) / request.ExpertAlignment * request.ExpertAlignment));
        return (handle, counts.Blocks, perExpert);
    }

    /// <summary>The blocks of a handle: remembered when this buffer made it, else read from its matrices (a bounded host wait).</summary>
    private NcclBlocks BlocksOf(DispatchHandle handle, StreamOptions streams, CudaStream compute)
    {
        if (_handleBlocks.TryGetValue(handle, out NcclBlocks? known))
        {
            return known;
        }
        _order.Begin(streams, compute);
        _countsReady.Record(_comm);
        _nccl.WaitFor(_countsReady, "reading a foreign handle");
        var blocks = NcclBlocks.FromHandle(handle.RankPrefixMatrix.ToArray<int>(), handle.ChannelPrefixMatrix.ToArray<int>(), NumRanks, handle.NumChannels, Rank);
        _handleBlocks.AddOrUpdate(handle, blocks);
        return blocks;
    }

    private PinnedHostMemory HostCounts(long bytes)
    {
        if (_counts is null || _counts.Bytes < bytes)
        {
            _counts?.Dispose();
            _counts = PinnedHostMemory.Allocate(Device, bytes);
        }
        return _counts;
    }
}
