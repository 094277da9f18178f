using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Ep.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// The ranks of one kernels-backend buffer as seen from this rank: the device, every rank's communication header
/// (addressable through peer access), the barrier epochs, the host-mapped counters the kernels publish, and the
/// diagnostics block every bounded wait reports into.
/// </summary>
internal sealed class PeerMesh : IDisposable
{
    private const int DiagnosticsOffset = 0;
    private const int RecvCountOffset = 64;
    private const int ExpertCountsOffset = 128;
    private const int DiagnosticsBytes = 48;

    private readonly PinnedHostMemory _host;
    private SymmetricAllocation _header = null!;
    private int _epoch = 1;

    private PeerMesh(ProcessGroup group, int device, PinnedHostMemory host, TimeSpan timeout)
    {
        Group = group;
        Device = device;
        _host = host;
        Timeout = timeout;
        CommStream = CudaStream.CreateHighPriority(device);
    }

    public ProcessGroup Group { get; }

    public int Device { get; }

    public int Rank => Group.Rank;

    public int NumRanks => Group.Size;

    public TimeSpan Timeout { get; }

    public ulong TimeoutNs => (ulong)(Timeout.TotalMilliseconds * 1e6);

    /// <summary>The high-priority stream all communication kernels of this buffer run on.</summary>
    public CudaStream CommStream { get; }

    /// <summary>Every rank's header, as addressed from this device.</summary>
    public PeerArray<nint> Headers => _header.Peers;

    /// <summary>The diagnostics block, as addressed by kernels.</summary>
    public nint Diagnostics => _host.DevicePointer + DiagnosticsOffset;

    public nint HostRecvCount => _host.DevicePointer + RecvCountOffset;

    public nint HostExpertCounts => _host.DevicePointer + ExpertCountsOffset;

    /// <summary>Creates the mesh collectively: checks the ranks share this process, enables peer access, allocates and zeroes the header.</summary>
    public static PeerMesh Create(ProcessGroup group, int device, TimeSpan timeout)
    {
        if (group.Size > KernelLimits.MaxRanks)
        {
            throw new NotSupportedException($"The kernels backend addresses at most {KernelLimits.MaxRanks} ranks in one NVLink domain; this group has {group.Size}. Use the nccl backend.");
        }
        long[] identities = AllGatherValue(group, ((long)Environment.ProcessId << 16) | (uint)device);
        if (identities.Any(id => id >> 16 != Environment.ProcessId))
        {
            throw new NotSupportedException("The kernels backend runs ranks as threads of one process in this version (one thread per GPU); for one process per GPU use the nccl or host backend.");
        }
        int[] devices = identities.Select(id => (int)(id & 0xFFFF)).ToArray();
        if (devices.Distinct().Count() != devices.Length)
        {
            throw new ArgumentException($"Each rank needs its own GPU; the ranks asked for devices {string.Join(", ", devices)}.", nameof(device));
        }
        CudaDevice self = CudaDevice.Get(device);
        foreach (int peer in devices)
        {
            CudaDevice other = CudaDevice.Get(peer);
            if (!self.CanAccessPeer(other))
            {
                throw new NotSupportedException($"cuda:{device} cannot address cuda:{peer} (no NVLink/P2P); use the nccl backend on this topology.");
            }
            self.EnablePeerAccess(other);
        }
        PinnedHostMemory host = PinnedHostMemory.Allocate(device, ExpertCountsOffset + (KernelLimits.MaxLocalExperts * sizeof(int)));
        var mesh = new PeerMesh(group, device, host, timeout);
        mesh._header = mesh.AllocateSymmetric(KernelLimits.CommHeaderBytes);
        return mesh;
    }

    /// <summary>Collectively allocates <paramref name="bytes"/> of zeroed device memory on every rank and maps every copy here.</summary>
    public SymmetricAllocation AllocateSymmetric(long bytes)
    {
        DeviceMemory local = DeviceMemory.Allocate(Device, bytes);
        DeviceMemory.Fill(Device, local.Pointer, 0, bytes, stream: null);
        CudaStream.ForDevice(Device).Synchronize();
        long[] pointers = AllGatherValue(Group, (long)local.Pointer);
        var peers = new PeerArray<nint>();
        for (int r = 0; r < Group.Size; r++)
        {
            peers[r] = (nint)pointers[r];
        }
        return new SymmetricAllocation(local, peers);
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
            ThrowIfTimedOut();
            TimeSpan waited = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            // The kernel's own deadline fires first and says which peer is missing; this one only catches a kernel
            // that never ran, so it allows half as long again.
            if (waited > Timeout * 1.5)
            {
                throw new CommunicationTimeoutException("dispatch receive count", Rank, -1, -1, 0, seen, waited);
            }
            Thread.SpinWait(64);
        }
        Interlocked.MemoryBarrier();
        int[] perExpert = _host.AsSpan<int>().Slice(ExpertCountsOffset / sizeof(int), numLocalExperts).ToArray();
        return (seen, perExpert);
    }

    /// <summary>Throws the timeout a kernel recorded, if any (checked at every call and while the host waits).</summary>
    public void ThrowIfTimedOut()
    {
        if (Volatile.Read(ref _host.AsSpan<int>()[DiagnosticsOffset / sizeof(int)]) != 1)
        {
            return;
        }
        ReadOnlySpan<byte> block = _host.AsSpan<byte>().Slice(DiagnosticsOffset, DiagnosticsBytes);
        ReadOnlySpan<int> ints = MemoryMarshal.Cast<byte, int>(block);
        ReadOnlySpan<long> longs = MemoryMarshal.Cast<byte, long>(block.Slice(24));
        var waited = TimeSpan.FromMilliseconds(longs[2] / 1e6);
        if (ints[4] == WaitCode.MissingTopkWeights)
        {
            throw new InvalidOperationException($"Rank {ints[2]} passed no topkWeights to combine while rank {ints[1]} did: every rank must pass them, or none.");
        }
        if (ints[4] == WaitCode.LowLatencyRecvCapacity)
        {
            throw new InvalidOperationException(
                $"Local expert {ints[3]} of rank {ints[1]} was selected {longs[1]} times in one low-latency dispatch, more than its R*N = {longs[0]} packed rows (a top-k row repeats an expert). The dispatch was not completed.");
        }
        if (ints[4] == WaitCode.RecvCapacity)
        {
            throw new InvalidOperationException(
                $"Rank {ints[1]} had to write row {longs[1]} of rank {ints[2]}'s outputs, which hold {longs[0]} rows: numWorstTokens is smaller than the real receive count. Nothing was written past the end; raise numWorstTokens.");
        }
        throw new CommunicationTimeoutException(WaitCode.Describe(ints[4]), ints[1], ints[2], ints[3], longs[0], longs[1], waited);
    }

    public void Dispose()
    {
        CommStream.Synchronize();
        Group.Barrier();
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
