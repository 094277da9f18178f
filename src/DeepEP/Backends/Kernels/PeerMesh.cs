using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// The ranks of one kernels-backend buffer as seen from this rank: the device, every rank's communication header
/// (addressable through peer access, or CUDA IPC for ranks in other processes), the barrier epochs, the host-mapped counters the kernels publish, and the
/// diagnostics block every bounded wait reports into.
/// </summary>
internal sealed class PeerMesh : IDisposable
{
    private const int DiagnosticsOffset = 0;
    private const int RecvCountOffset = 64;
    private const int ExpertCountsOffset = 128;

    private readonly PinnedHostMemory _host;
    private bool _hostWaitFailed;
    private bool _peersGone;
    private SymmetricAllocation _header = null!;
    private bool[] _inOtherProcess = [];
    private int _epoch = 1;

    private PeerMesh(ProcessGroup group, int device, PinnedHostMemory host, TimeSpan timeout, CudaStream commStream)
    {
        Group = group;
        Device = device;
        _host = host;
        Timeout = timeout;
        CommStream = commStream;
    }

    public ProcessGroup Group { get; }

    public int Device { get; }

    public int Rank => Group.Rank;

    public int NumRanks => Group.Size;

    public TimeSpan Timeout { get; }

    public ulong TimeoutNs => (ulong)(Timeout.TotalMilliseconds * 1e6);

    /// <summary>
    /// The stream all communication kernels of this buffer run on: a high-priority stream of its own, or, when other
    /// ranks of this process share the GPU, the creating thread's library stream, so each rank uses one stream and
    /// every rank's stream gets its own hardware queue (two streams in one queue run in order, and a rank's waiting
    /// kernel would then hold back the kernel of another rank it waits for).
    /// </summary>
    public CudaStream CommStream { get; }

    /// <summary>Every rank's header, as addressed from this device.</summary>
    public PeerArray<nint> Headers => _header.Peers;

    /// <summary>The diagnostics block, as addressed by kernels.</summary>
    public nint Diagnostics => _host.DevicePointer + DiagnosticsOffset;

    public nint HostRecvCount => _host.DevicePointer + RecvCountOffset;

    public nint HostExpertCounts => _host.DevicePointer + ExpertCountsOffset;

    /// <summary>
    /// True when some rank runs in another process (one process per GPU): peers then reach this rank's memory only
    /// through <see cref="AllocateSymmetric"/>'s IPC mappings, never its per-call tensors, so calls stage rows in a
    /// receive arena. The same on every rank: if any two ranks differ in process, every rank has a peer elsewhere.
    /// </summary>
    public bool CrossesProcesses => _inOtherProcess.Any(other => other);

    /// <summary>
    /// SMs this rank may hold at once: its GPU's SM count divided by the ranks sharing that GPU (the smallest share in
    /// the group, so every rank agrees). Normal-mode copy kernels take <see cref="EpConfig.NumSms"/> of them; low-latency
    /// grids are clamped to them, so the waiting kernels of every rank on a GPU are resident together.
    /// </summary>
    public int SmBudget { get; private init; }

    /// <summary>This rank's part of its GPU, for kernel launches.</summary>
    public GpuShare Share => new(SmBudget, BusiestGpu.Ranks > 1);

    /// <summary>The GPU that sets <see cref="SmBudget"/>: its ranks and SMs (1 rank when every rank has its own GPU).</summary>
    public (int Ranks, int Sms) BusiestGpu { get; private init; }

    /// <summary>
    /// Creates the mesh collectively: learns which peers share this process (peer access, or the same context when they
    /// share its GPU) and which do not (CUDA IPC, also between processes on one GPU), checks every GPU can address every
    /// other, splits shared GPUs' SMs, allocates and zeroes the header.
    /// </summary>
    public static PeerMesh Create(ProcessGroup group, int device, TimeSpan timeout)
    {
        if (group.Size > KernelLimits.MaxRanks)
        {
            throw new NotSupportedException($"The kernels backend addresses at most {KernelLimits.MaxRanks} ranks in one NVLink domain; this group has {group.Size}. Use the nccl backend.");
        }
        CudaDevice self = CudaDevice.Get(device);
        RankIdentity[] ranks = RankIdentity.AllGather(group, self);
        RankIdentity me = ranks[group.Rank];
        foreach (RankIdentity rank in ranks.Where(r => !r.SameGpu(me)))
        {
            // A GPU another process uses is checked when this process sees it too (CUDA_VISIBLE_DEVICES may hide it;
            // then opening its IPC handle is the check).
            CudaDevice? other = rank.SameProcess(me) ? CudaDevice.Get(rank.Device) : CudaDevice.All.FirstOrDefault(d => d.Uuid == rank.Gpu);
            if (other is null)
            {
                continue;
            }
            if (!self.CanAccessPeer(other))
            {
                throw new NotSupportedException($"cuda:{device} cannot address {rank.Describe()} (no NVLink/P2P); use the nccl backend on this topology.");
            }
            if (rank.SameProcess(me))
            {
                self.EnablePeerAccess(other);
            }
        }
        (int Ranks, int Sms) busiest = FindBusiestGpu(ranks);
        PinnedHostMemory host = PinnedHostMemory.Allocate(device, ExpertCountsOffset + (KernelLimits.MaxLocalExperts * sizeof(int)));
        bool gpuSharedInProcess = ranks.Where((r, i) => i != group.Rank && r.SameGpu(me) && r.SameProcess(me)).Any();
        CudaStream comm = gpuSharedInProcess ? CudaStream.ForDevice(device) : CudaStream.CreateHighPriority(device);
        var mesh = new PeerMesh(group, device, host, timeout, comm)
        {
            _inOtherProcess = ranks.Select(r => !r.SameProcess(me)).ToArray(),
            BusiestGpu = busiest,
            SmBudget = busiest.Sms / busiest.Ranks,
        };
        mesh._header = mesh.AllocateSymmetric(KernelLimits.CommHeaderBytes);
        return mesh;
    }

    /// <summary>
    /// Refuses a normal-mode SM count that the ranks sharing a GPU cannot hold at once (their copy kernels wait for
    /// each other, so one that is not resident would stall the rest until the deadline).
    /// </summary>
    public void CheckSmBudget(int numSms) => CheckSmBudget(numSms, BusiestGpu);

    /// <summary>The rule of <see cref="CheckSmBudget(int)"/> for the ranks and SMs of the busiest GPU.</summary>
    internal static void CheckSmBudget(int numSms, (int Ranks, int Sms) busiest)
    {
        int budget = busiest.Sms / busiest.Ranks;
        if (numSms > budget)
        {
            throw new ArgumentException(
                $"config.NumSms ({numSms}) does not fit: {busiest.Ranks} ranks share a GPU of {busiest.Sms} SMs and would ask for {(long)numSms * busiest.Ranks} at once, " +
                $"so each rank may hold at most {budget}. Use a config with NumSms <= {budget - (budget % 2)} (EpBuffer.SetNumSms, or new EpConfig).",
                "config");
        }
    }

    // Every GPU's SMs are split evenly among the ranks on it; the smallest share sets the budget, so all ranks agree.
    internal static (int Ranks, int Sms) FindBusiestGpu(RankIdentity[] ranks)
    {
        (int Ranks, int Sms) busiest = ranks.GroupBy(r => r.Gpu).Select(g => (Ranks: g.Count(), g.First().Sms)).MinBy(g => g.Sms / g.Ranks);
        if (busiest.Sms < busiest.Ranks)
        {
            throw new NotSupportedException($"{busiest.Ranks} ranks share a GPU of {busiest.Sms} SMs: each needs at least one; use fewer ranks per GPU.");
        }
        return busiest;
    }

    /// <summary>
    /// Collectively allocates <paramref name="bytes"/> of zeroed device memory on every rank and maps every copy here:
    /// peers in this process by address, peers in other processes by exchanging and opening CUDA IPC handles.
    /// </summary>
    public SymmetricAllocation AllocateSymmetric(long bytes)
    {
        DeviceMemory local = DeviceMemory.Allocate(Device, bytes);
        var mappings = new List<IpcMemoryMapping>();
        try
        {
            DeviceMemory.Fill(Device, local.Pointer, 0, bytes, stream: null);
            CudaStream.ForDevice(Device).Synchronize();
            long[] owners = AllGatherValue(Group, (long)local.Pointer);
            byte[][] handles = CrossesProcesses ? Group.AllGather(IpcMemoryHandle.Get(Device, local.Pointer).ToBytes()) : [];
            var peers = new PeerArray<nint>();
            var deltas = new PeerArray<long>();
            for (int r = 0; r < Group.Size; r++)
            {
                if (_inOtherProcess[r])
                {
                    IpcMemoryMapping mapping = IpcMemoryHandle.FromBytes(handles[r]).Open(Device);
                    mappings.Add(mapping);
                    peers[r] = mapping.Pointer;
                }
                else
                {
                    peers[r] = (nint)owners[r];
                }
                deltas[r] = peers[r] - owners[r];
            }
            return new SymmetricAllocation(local, peers, deltas, mappings);
        }
        catch
        {
            mappings.ForEach(m => m.Dispose());
            local.Dispose();
            throw;
        }
    }

    /// <summary>Reserves <paramref name="count"/> consecutive barrier epochs (the same on every rank, since all issue the same calls).</summary>
    public int NextEpochs(int count)
    {
        int first = _epoch;
        _epoch += count;
        return first;
    }

    /// <summary>
    /// Enqueues a barrier across the ranks' communication streams. With a low-latency <paramref name="mask"/> (shrink
    /// mode) masked ranks are skipped and a rank that misses the deadline is masked instead of failing the barrier.
    /// </summary>
    public void Barrier(nint mask = 0)
    {
        var p = new BarrierParams
        {
            Headers = Headers,
            Diagnostics = Diagnostics,
            Mask = mask,
            TimeoutNs = TimeoutNs,
            Rank = Rank,
            NumRanks = NumRanks,
            Epoch = NextEpochs(1),
        };
        BarrierRuntime.Launch(Device, CommStream, p);
    }

    /// <summary>Marks the host counters unwritten before a notify kernel that will fill them.</summary>
    public void ResetHostCounters(int numLocalExperts)
    {
        Span<int> counts = _host.AsSpan<int>();
        counts[RecvCountOffset / sizeof(int)] = -1;
        counts.Slice(ExpertCountsOffset / sizeof(int), numLocalExperts).Fill(-1);
    }

    /// <summary>Polls the receive count the notify kernel publishes, with the deadline; returns M and the per-expert list.</summary>
    public (int RecvCount, int[] PerExpert) WaitForRecvCounts(int numLocalExperts)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        ref int recvCount = ref _host.AsSpan<int>()[RecvCountOffset / sizeof(int)];
        int seen;
        while ((seen = Volatile.Read(ref recvCount)) < 0)
        {
            ThrowIfTimedOut("dispatch");
            TimeSpan waited = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            // The kernel's own deadline fires first and says which peer is missing; this one only catches a kernel
            // that never ran, so it allows half as long again.
            if (waited > Timeout * 1.5)
            {
                _hostWaitFailed = true;
                throw new CommunicationTimeoutException("dispatch receive count", Rank, -1, -1, 0, seen, waited);
            }
            Thread.SpinWait(64);
        }
        Interlocked.MemoryBarrier();
        int[] perExpert = _host.AsSpan<int>().Slice(ExpertCountsOffset / sizeof(int), numLocalExperts).ToArray();
        return (seen, perExpert);
    }

    /// <summary>
    /// Throws the timeout a kernel recorded, if any (checked at every call and while the host waits), naming
    /// <paramref name="call"/>, the call that found it: the kernel that waited belongs to it or to an earlier call.
    /// </summary>
    public void ThrowIfTimedOut(string call)
    {
        if (Volatile.Read(ref _host.AsSpan<int>()[DiagnosticsOffset / sizeof(int)]) != 1)
        {
            return;
        }
        KernelDiagnostics record = KernelDiagnostics.Read(_host.AsSpan<byte>()[DiagnosticsOffset..]);
        throw KernelFailure.ToException(record, call, CrossesProcesses, LowLatencyState);
    }

    /// <summary>
    /// True once a wait of this rank failed (a kernel's deadline, recorded for good: later kernels give up at once).
    /// Its peers may be gone, so closing waits for them no longer than the deadline (<see cref="CloseBarrier"/>).
    /// </summary>
    public bool Failed => _hostWaitFailed || Volatile.Read(ref _host.AsSpan<int>()[DiagnosticsOffset / sizeof(int)]) != 0;

    /// <summary>
    /// Shrink mode: a lost rank is masked and the others go on, so closing must not wait for it either
    /// (<see cref="CloseBarrier"/>). Set when the low-latency buffer is created with shrink.
    /// </summary>
    public bool ToleratesLostRanks { get; set; }

    /// <summary>
    /// Waits for every rank before releasing memory peers may still write. After a failure, or in shrink mode, every
    /// rank still arrives (a healthy peer is waiting here), but waits no longer than the deadline: the others may be
    /// gone, and the call that failed has reported it already (or the lost rank was masked). Once such a wait ran
    /// out, later closing barriers are skipped.
    /// </summary>
    public void CloseBarrier()
    {
        if (_peersGone)
        {
            return;
        }
        if (!Failed && !ToleratesLostRanks)
        {
            Group.Barrier();
            return;
        }
        try
        {
            Group.Barrier(Timeout);
        }
        catch (ProcessGroupException)
        {
            // Peers gone: nothing left to wait for.
            _peersGone = true;
        }
    }

    /// <summary>Describes this rank's low-latency state (epochs, masks, signals) for a low-latency timeout's message.</summary>
    public Func<string>? LowLatencyState { get; set; }

    public void Dispose()
    {
        CommStream.Synchronize();
        CloseBarrier();
        CommStream.Dispose();
        _header.Dispose();
        _host.Dispose();
    }

    private static T[] AllGatherValue<T>(ProcessGroup group, T value)
        where T : unmanaged
    {
        byte[][] all = group.AllGather(MemoryMarshal.AsBytes(new[] { value }.AsSpan()).ToArray());
        return all.Select(bytes => MemoryMarshal.Read<T>(bytes)).ToArray();
    }
}
