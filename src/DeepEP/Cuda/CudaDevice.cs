using System.Runtime.InteropServices;
using System.Text;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// One CUDA device, by ordinal, with its retained primary context and the library's stream for it. Instances are
/// process-wide singletons (<see cref="Get"/>). Every member except <see cref="IsAvailable"/> and
/// <see cref="UnavailableReason"/> throws <see cref="GpuUnavailableException"/> when there is no usable GPU.
/// </summary>
public sealed partial class CudaDevice
{
    private static readonly Lazy<CudaDevice[]> s_devices = new(CreateDevices);

    // Per thread, as PyTorch's current stream: ranks that are threads sharing one GPU must not queue behind each other.
    [ThreadStatic]
    private static Dictionary<int, LibraryStreamPool.Lease>? t_libraryStreams;

    private readonly Lazy<PrimaryContextHandle> _context;
    private readonly LibraryStreamPool _streams;
    private readonly Lazy<bool> _poolConfigured;

    private CudaDevice(int ordinal)
    {
        Ordinal = ordinal;
        _context = new Lazy<PrimaryContextHandle>(() => PrimaryContextHandle.Retain(ordinal));
        _streams = new LibraryStreamPool(this);
        _poolConfigured = new Lazy<bool>(ConfigurePool);
    }

    /// <summary>True when the driver loads and reports at least one device. Never throws.</summary>
    public static bool IsAvailable => UnavailableReason is null;

    /// <summary>Why <see cref="IsAvailable"/> is false (with the places searched), or null when a GPU is usable.</summary>
    public static string? UnavailableReason
    {
        get
        {
            try
            {
                return CudaDriverLoader.Failure ?? (Count == 0 ? "The CUDA driver reports 0 devices." : null);
            }
            catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
            {
                return e.Message;
            }
        }
    }

    /// <summary>Number of visible devices.</summary>
    public static int Count => s_devices.Value.Length;

    /// <summary>Every visible device, by ordinal.</summary>
    public static IReadOnlyList<CudaDevice> All => s_devices.Value;

    /// <summary>The driver's CUDA version as an integer: 1000 × major + 10 × minor (13000 for 13.0).</summary>
    public static int DriverVersion
    {
        get
        {
            CudaDriverLoader.EnsureInitialized();
            Check(CudaDriver.cuDriverGetVersion(out int version));
            return version;
        }
    }

    /// <summary>The device with ordinal <paramref name="ordinal"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such device.</exception>
    public static CudaDevice Get(int ordinal)
    {
        CudaDevice[] devices = s_devices.Value;
        if ((uint)ordinal >= (uint)devices.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"CUDA device {ordinal} does not exist; {devices.Length} device(s) are visible.");
        }
        return devices[ordinal];
    }

    // Read once: launches ask for it on every call.
    private int? _multiprocessorCount;

    /// <summary>The device ordinal (as in <c>cuda:N</c>).</summary>
    public int Ordinal { get; }

    /// <summary>The marketing name, e.g. <c>NVIDIA H200</c>.</summary>
    public unsafe string Name
    {
        get
        {
            byte* buffer = stackalloc byte[256];
            Check(CudaDriver.cuDeviceGetName(buffer, 256, Ordinal));
            return Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        }
    }

    /// <summary>Streaming multiprocessors.</summary>
    public int MultiprocessorCount => _multiprocessorCount ??= GetAttribute(CudaDeviceAttribute.MultiprocessorCount);

    /// <summary>Total device memory, in bytes.</summary>
    public long TotalMemoryBytes
    {
        get
        {
            Check(CudaDriver.cuDeviceTotalMem_v2(out nuint bytes, Ordinal));
            return (long)bytes;
        }
    }

    /// <summary>
    /// Bytes the device's default memory pool, which every <c>DeviceTensor</c> comes from, holds from the driver
    /// (PyTorch's <c>memory_reserved</c>). The pool never returns memory, so this is the high-water mark of
    /// <see cref="PoolUsedBytes"/> plus fragmentation; it staying flat over many calls shows nothing leaks.
    /// </summary>
    public long PoolReservedBytes => PoolAttribute(CudaDriver.MemPoolAttributeReservedMemCurrent);

    /// <summary>Bytes of the default memory pool's live allocations (PyTorch's <c>memory_allocated</c>).</summary>
    public long PoolUsedBytes => PoolAttribute(CudaDriver.MemPoolAttributeUsedMemCurrent);

    /// <summary>The compute capability (9.0 on Hopper).</summary>
    public ComputeCapability ComputeCapability =>
        new(GetAttribute(CudaDeviceAttribute.ComputeCapabilityMajor), GetAttribute(CudaDeviceAttribute.ComputeCapabilityMinor));

    /// <summary>The device's UUID (as <c>nvidia-smi -L</c> prints it, after <c>GPU-</c>).</summary>
    public Guid Uuid
    {
        get
        {
            Check(CudaDriver.cuDeviceGetUuid_v2(out CuUuid uuid, Ordinal));
            ReadOnlySpan<byte> b = uuid;
            // The driver's bytes are big-endian throughout; Guid's first three fields are little-endian.
            return new Guid(b, bigEndian: true);
        }
    }

    /// <summary>The PCI address, <c>domain:bus:device</c> in hex.</summary>
    public string PciAddress => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"{GetAttribute(CudaDeviceAttribute.PciDomainId):x4}:{GetAttribute(CudaDeviceAttribute.PciBusId):x2}:{GetAttribute(CudaDeviceAttribute.PciDeviceId):x2}");

    /// <summary>
    /// The library's default stream for this device on the calling thread (non-blocking; used when an operation is given
    /// no stream). Each thread has its own, as PyTorch's current stream is per thread, so ranks that are threads of one
    /// process sharing a GPU never wait behind each other's kernels; work handed between threads must be ordered by the
    /// caller (an event, or a stream passed explicitly). Lent from the device's <see cref="LibraryStreamPool"/>, so the
    /// threads alive at once use distinct hardware queues; returned to it when its thread ends.
    /// </summary>
    public CudaStream LibraryStream
    {
        get
        {
            Dictionary<int, LibraryStreamPool.Lease> leases = t_libraryStreams ??= [];
            if (!leases.TryGetValue(Ordinal, out LibraryStreamPool.Lease? lease))
            {
                lease = _streams.Rent();
                leases.Add(Ordinal, lease);
            }
            return lease.Stream;
        }
    }

    /// <summary>The retained primary context (a <c>CUcontext</c>).</summary>
    internal nint Context => _context.Value.DangerousGetHandle();

    /// <summary>Reads one device attribute.</summary>
    public int GetAttribute(CudaDeviceAttribute attribute)
    {
        Check(CudaDriver.cuDeviceGetAttribute(out int value, (int)attribute, Ordinal));
        return value;
    }

    /// <summary>
    /// Makes this device's primary context current on the calling thread until the returned scope is disposed,
    /// which restores the previous one: <c>using var scope = device.Activate();</c>.
    /// </summary>
    public CudaContextScope Activate() => new(Context);

    /// <summary>Makes this device's primary context current on the calling thread, with no restore (like <c>cudaSetDevice</c>).</summary>
    public void MakeCurrent() => Check(CudaDriver.cuCtxSetCurrent(Context));

    /// <summary>
    /// Waits for the calling thread's library stream before a module load or a kernel attribute change. Those calls
    /// may wait for the whole GPU and hold back other threads' launches meanwhile; a kernel this thread left spinning
    /// for a rank that is another thread on this GPU would then wait for a launch that cannot happen until its deadline.
    /// Skipped while the stream is being captured (nothing runs then).
    /// </summary>
    internal void QuiesceCallingThread()
    {
        CudaStream stream = LibraryStream;
        if (!stream.IsCapturing)
        {
            stream.Synchronize();
        }
    }

    /// <summary>Blocks until all work on every stream of this device has finished.</summary>
    public void Synchronize()
    {
        using CudaContextScope scope = Activate();
        Check(CudaDriver.cuCtxSynchronize());
    }

    /// <inheritdoc />
    public override string ToString() => $"cuda:{Ordinal}";

    /// <summary>Sets the default pool's release threshold to "never" once, so freed blocks are reused rather than returned to the OS.</summary>
    internal void EnsurePoolConfigured() => _ = _poolConfigured.Value;

    private unsafe long PoolAttribute(int attribute)
    {
        Check(CudaDriver.cuDeviceGetDefaultMemPool(out nint pool, Ordinal));
        ulong value;
        Check(CudaDriver.cuMemPoolGetAttribute(pool, attribute, &value));
        return checked((long)value);
    }

    private unsafe bool ConfigurePool()
    {
        Check(CudaDriver.cuDeviceGetDefaultMemPool(out nint pool, Ordinal));
        ulong threshold = ulong.MaxValue;
        Check(CudaDriver.cuMemPoolSetAttribute(pool, CudaDriver.MemPoolAttributeReleaseThreshold, &threshold));
        // The pool may otherwise reuse memory freed on one stream for another by making the second wait for the first:
        // with ranks that are threads on one GPU that orders one rank's kernels behind another's, which wait for each
        // other — a deadlock. Reuse of frees that have completed (or that an event already orders) stays on.
        int allow = 0;
        Check(CudaDriver.cuMemPoolSetAttribute(pool, CudaDriver.MemPoolAttributeReuseAllowInternalDependencies, &allow));
        return true;
    }

    private static CudaDevice[] CreateDevices()
    {
        CudaDriverLoader.EnsureInitialized();
        Check(CudaDriver.cuDeviceGetCount(out int count));
        var devices = new CudaDevice[count];
        for (int i = 0; i < count; i++)
        {
            Check(CudaDriver.cuDeviceGet(out int device, i));
            devices[i] = new CudaDevice(device);
        }
        return devices;
    }

    /// <summary>A retained primary context, released with <c>cuDevicePrimaryCtxRelease_v2</c>.</summary>
    private sealed class PrimaryContextHandle : SafeHandle
    {
        private readonly int _device;

        private PrimaryContextHandle(int device)
            : base(0, ownsHandle: true) => _device = device;

        public override bool IsInvalid => handle == 0;

        public static PrimaryContextHandle Retain(int device)
        {
            var result = new PrimaryContextHandle(device);
            Check(CudaDriver.cuDevicePrimaryCtxRetain(out nint context, device));
            result.SetHandle(context);
            return result;
        }

        protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease_v2(_device) == CuResult.Success;
    }
}
