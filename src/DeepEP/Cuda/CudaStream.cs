using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// A CUDA stream on one device: owned (created here, destroyed on <see cref="Dispose"/>) or borrowed
/// (<see cref="FromHandle"/>: a stream of TorchSharp, ONNX Runtime or the caller, never destroyed here).
/// Streams created here are non-blocking: they never synchronise implicitly with the legacy NULL stream.
/// </summary>
public sealed class CudaStream : IDisposable
{
    private readonly StreamHandle? _owned;
    private readonly bool _isLibraryStream;

    private CudaStream(int device, nint handle, StreamHandle? owned, int priority, bool isLibraryStream)
    {
        Device = device;
        Handle = handle;
        _owned = owned;
        Priority = priority;
        _isLibraryStream = isLibraryStream;
    }

    /// <summary>Creates a stream on <paramref name="device"/>.</summary>
    /// <param name="device">Device ordinal.</param>
    /// <param name="priority">
    /// Scheduling priority: lower numbers run first; clamped by the driver to <see cref="GetPriorityRange"/>. 0 is the default.
    /// </param>
    public CudaStream(int device, int priority = 0)
        : this(CudaDevice.Get(device), priority, isLibraryStream: false)
    {
    }

    private CudaStream(CudaDevice device, int priority, bool isLibraryStream)
    {
        using CudaContextScope scope = device.Activate();
        _owned = StreamHandle.Create(device.Ordinal, priority);
        Device = device.Ordinal;
        Handle = _owned.DangerousGetHandle();
        Priority = priority;
        _isLibraryStream = isLibraryStream;
    }

    /// <summary>Device ordinal.</summary>
    public int Device { get; }

    /// <summary>The native <c>CUstream</c> (the same object as a runtime <c>cudaStream_t</c>).</summary>
    public nint Handle { get; }

    /// <summary>The priority the stream was created with (0 for borrowed streams).</summary>
    public int Priority { get; }

    /// <summary>True when every operation queued so far has finished.</summary>
    public bool IsIdle
    {
        get
        {
            CuResult result = CudaDriver.cuStreamQuery(Handle);
            return result switch
            {
                CuResult.Success => true,
                CuResult.NotReady => false,
                _ => throw CudaCheck.Exception(result, "cuStreamQuery(stream)"),
            };
        }
    }

    /// <summary>The calling thread's library stream for <paramref name="device"/> (what a null stream argument means; see <see cref="CudaDevice.LibraryStream"/>).</summary>
    public static CudaStream ForDevice(int device) => CudaDevice.Get(device).LibraryStream;

    /// <summary>A stream with the highest priority the device offers (DeepEP's communication stream).</summary>
    public static CudaStream CreateHighPriority(int device) => new(device, GetPriorityRange(device).Greatest);

    /// <summary>The device's stream priorities: <c>Greatest</c> is the most urgent and numerically smallest.</summary>
    public static (int Least, int Greatest) GetPriorityRange(int device)
    {
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        Check(CudaDriver.cuCtxGetStreamPriorityRange(out int least, out int greatest));
        return (least, greatest);
    }

    /// <summary>Wraps a stream owned elsewhere; it is never destroyed here and must outlive this object's use.</summary>
    public static CudaStream FromHandle(nint handle, int device) => new(device, handle, owned: null, priority: 0, isLibraryStream: false);

    internal static CudaStream CreateLibraryStream(CudaDevice device) => new(device, priority: 0, isLibraryStream: true);

    /// <summary>True while this stream is being captured into a CUDA graph (synchronising or copying to the host is illegal then).</summary>
    public bool IsCapturing
    {
        get
        {
            Check(CudaDriver.cuStreamIsCapturing(Handle, out int status));
            return status != CudaDriver.StreamCaptureStatusNone;
        }
    }

    /// <summary>Blocks until every operation queued so far has finished.</summary>
    public void Synchronize() => Check(CudaDriver.cuStreamSynchronize(Handle));

    /// <summary>Makes later work on this stream wait for <paramref name="event"/> (no host blocking).</summary>
    public void Wait(CudaEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        Check(CudaDriver.cuStreamWaitEvent(Handle, @event.Handle, 0));
    }

    /// <summary>Records a new event on this stream and returns it (the caller disposes it).</summary>
    public CudaEvent RecordEvent(bool enableTiming = false)
    {
        var e = new CudaEvent(Device, enableTiming);
        e.Record(this);
        return e;
    }

    /// <summary>Destroys an owned stream once its queued work has finished (no-op for borrowed streams and the library stream).</summary>
    public void Dispose()
    {
        if (!_isLibraryStream)
        {
            _owned?.Dispose();
        }
    }

    /// <summary>
    /// Keeps the native stream alive for a later use (memory freed on it); returns
    /// the handle to release, or null for borrowed streams.
    /// </summary>
    internal SafeHandle? AddRef()
    {
        if (_owned is null)
        {
            return null;
        }
        bool added = false;
        _owned.DangerousAddRef(ref added);
        return _owned;
    }

    /// <inheritdoc />
    public override string ToString() => $"stream 0x{Handle:x} on cuda:{Device}";

    private sealed class StreamHandle : SafeHandle
    {
        private readonly int _device;

        private StreamHandle(int device)
            : base(0, ownsHandle: true) => _device = device;

        public override bool IsInvalid => handle == 0;

        public static StreamHandle Create(int device, int priority)
        {
            var result = new StreamHandle(device);
            Check(CudaDriver.cuStreamCreateWithPriority(out nint stream, CudaDriver.StreamNonBlocking, priority));
            result.SetHandle(stream);
            return result;
        }

        protected override bool ReleaseHandle()
        {
            using CudaContextScope scope = CudaDevice.Get(_device).Activate();
            return CudaDriver.cuStreamDestroy_v2(handle) == CuResult.Success;
        }
    }
}
