namespace DeepEP.Cuda;

/// <summary>
/// The library streams of one device, lent one per thread. Two streams that land in the same hardware queue run in
/// order, so a rank's spinning kernel could hold back the kernel of another rank it waits for (ranks that are threads
/// sharing a GPU). The driver hands queues to streams round-robin as they are created, so the pool creates as many
/// streams as there are queues (<c>CUDA_DEVICE_MAX_CONNECTIONS</c>), back to back, and reuses them: the threads alive
/// at once get distinct queues. A thread's stream returns to the pool when the thread is gone (its lease is finalised).
/// </summary>
internal sealed class LibraryStreamPool
{
    private const string ConnectionsVariable = "CUDA_DEVICE_MAX_CONNECTIONS";

    private readonly CudaDevice _device;
    private readonly object _gate = new();
    // Every pooled stream stays reachable from here: a lease finalised with its thread must not take the stream with it.
    private CudaStream[]? _all;
    private Stack<CudaStream>? _free;

    public LibraryStreamPool(CudaDevice device) => _device = device;

    /// <summary>Hardware queues per device as the driver was configured (8 when unset; at most 32).</summary>
    public static int Connections =>
        int.TryParse(Environment.GetEnvironmentVariable(ConnectionsVariable), out int n) ? Math.Clamp(n, 1, 32) : 8;

    /// <summary>Lends the calling thread a stream until the returned lease is finalised.</summary>
    public Lease Rent()
    {
        if (TryTake() is { } pooled)
        {
            return new Lease(this, pooled);
        }
        // Threads that ended may still hold streams until their leases are finalised.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Past the pool (more live threads than queues) a stream of its own is the best left: queues are then shared.
        return new Lease(this, TryTake() ?? CudaStream.CreateLibraryStream(_device));
    }

    private CudaStream? TryTake()
    {
        lock (_gate)
        {
            if (_all is null)
            {
                _all = [.. Enumerable.Range(0, Connections).Select(_ => CudaStream.CreateLibraryStream(_device))];
                _free = new Stack<CudaStream>(_all.Reverse());
            }
            return _free!.TryPop(out CudaStream? stream) ? stream : null;
        }
    }

    private void Return(CudaStream stream)
    {
        lock (_gate)
        {
            // A stream made past the pool is finalised with its lease instead.
            if (Array.IndexOf(_all!, stream) >= 0)
            {
                _free!.Push(stream);
            }
        }
    }

    /// <summary>One thread's stream; back to the pool once the thread (its only holder) is gone.</summary>
    internal sealed class Lease(LibraryStreamPool pool, CudaStream stream)
    {
        ~Lease() => pool.Return(Stream);

        public CudaStream Stream { get; } = stream;
    }
}
