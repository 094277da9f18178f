using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>A CUDA event on one device: a marker recorded on a stream that other streams or the host can wait for.</summary>
public sealed class CudaEvent : IDisposable
{
    private readonly EventHandle _handle;

    /// <summary>Creates an event on <paramref name="device"/>.</summary>
    /// <param name="device">Device ordinal.</param>
    /// <param name="enableTiming">Record timestamps for <see cref="ElapsedMilliseconds"/> (slightly slower to record).</param>
    public CudaEvent(int device, bool enableTiming = false)
    {
        CudaDevice owner = CudaDevice.Get(device);
        using CudaContextScope scope = owner.Activate();
        _handle = EventHandle.Create(device, enableTiming ? 0 : CudaDriver.EventDisableTiming);
        Device = device;
        TimingEnabled = enableTiming;
    }

    /// <summary>Device ordinal.</summary>
    public int Device { get; }

    /// <summary>True when the event records timestamps.</summary>
    public bool TimingEnabled { get; }

    /// <summary>The native <c>CUevent</c>.</summary>
    public nint Handle => _handle.DangerousGetHandle();

    /// <summary>True when the work captured by the last <see cref="Record"/> has finished (or it was never recorded).</summary>
    public bool IsComplete
    {
        get
        {
            CuResult result = CudaDriver.cuEventQuery(Handle);
            return result switch
            {
                CuResult.Success => true,
                CuResult.NotReady => false,
                _ => throw CudaCheck.Exception(result, "cuEventQuery(event)"),
            };
        }
    }

    /// <summary>Captures the work queued so far on <paramref name="stream"/> (the device's library stream when null).</summary>
    public void Record(CudaStream? stream = null)
    {
        CudaStream target = stream ?? CudaDevice.Get(Device).LibraryStream;
        Check(CudaDriver.cuEventRecord(Handle, target.Handle));
    }

    /// <summary>Blocks the host until the recorded work has finished.</summary>
    public void Synchronize() => Check(CudaDriver.cuEventSynchronize(Handle));

    /// <summary>
    /// Makes <paramref name="stream"/> (the event's device's library stream when null — "the current stream") wait
    /// for this event, without blocking the host.
    /// </summary>
    public void StreamWait(CudaStream? stream)
    {
        CudaStream target = stream ?? CudaDevice.Get(Device).LibraryStream;
        target.Wait(this);
    }

    /// <summary>Milliseconds between two recorded, completed timing events (resolution about 0.5 µs).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        Check(CudaDriver.cuEventElapsedTime(out float milliseconds, start.Handle, end.Handle));
        return milliseconds;
    }

    /// <summary>Destroys the event (pending waits on it still complete).</summary>
    public void Dispose() => _handle.Dispose();

    private sealed class EventHandle : SafeHandle
    {
        private readonly int _device;

        private EventHandle(int device)
            : base(0, ownsHandle: true) => _device = device;

        public override bool IsInvalid => handle == 0;

        public static EventHandle Create(int device, uint flags)
        {
            var result = new EventHandle(device);
            Check(CudaDriver.cuEventCreate(out nint e, flags));
            result.SetHandle(e);
            return result;
        }

        protected override bool ReleaseHandle()
        {
            using CudaContextScope scope = CudaDevice.Get(_device).Activate();
            return CudaDriver.cuEventDestroy_v2(handle) == CuResult.Success;
        }
    }
}
