using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// A captured and instantiated CUDA graph: the work queued on a stream during <see cref="Capture"/>, replayable
/// with <see cref="Launch"/> at a fraction of the launch cost (low-latency decode).
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private readonly GraphExecHandle _exec;

    private CudaGraph(int device, GraphExecHandle exec)
    {
        Device = device;
        _exec = exec;
    }

    /// <summary>Device ordinal.</summary>
    public int Device { get; }

    /// <summary>
    /// Records what <paramref name="body"/> queues on <paramref name="stream"/> (thread-local capture mode) and
    /// instantiates it. Nothing runs during capture. If <paramref name="body"/> throws, the capture is ended and discarded.
    /// </summary>
    public static CudaGraph Capture(CudaStream stream, Action<CudaStream> body)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(body);
        CudaDevice device = CudaDevice.Get(stream.Device);
        using CudaContextScope scope = device.Activate();
        Check(CudaDriver.cuStreamBeginCapture_v2(stream.Handle, CudaDriver.StreamCaptureModeThreadLocal));
        nint graph;
        try
        {
            body(stream);
        }
        catch
        {
            if (CudaDriver.cuStreamEndCapture(stream.Handle, out nint abandoned) == CuResult.Success && abandoned != 0)
            {
                _ = CudaDriver.cuGraphDestroy(abandoned);
            }
            throw;
        }
        Check(CudaDriver.cuStreamEndCapture(stream.Handle, out graph));
        try
        {
            return new CudaGraph(stream.Device, GraphExecHandle.Instantiate(stream.Device, graph));
        }
        finally
        {
            _ = CudaDriver.cuGraphDestroy(graph);
        }
    }

    /// <summary>Queues one replay on <paramref name="stream"/> (the device's library stream when null).</summary>
    public void Launch(CudaStream? stream = null)
    {
        CudaDevice device = CudaDevice.Get(Device);
        using CudaContextScope scope = device.Activate();
        Check(CudaDriver.cuGraphLaunch(_exec.DangerousGetHandle(), (stream ?? device.LibraryStream).Handle));
    }

    /// <summary>Destroys the executable graph.</summary>
    public void Dispose() => _exec.Dispose();

    private sealed class GraphExecHandle : SafeHandle
    {
        private readonly int _device;

        private GraphExecHandle(int device)
            : base(0, ownsHandle: true) => _device = device;

        public override bool IsInvalid => handle == 0;

        public static GraphExecHandle Instantiate(int device, nint graph)
        {
            var result = new GraphExecHandle(device);
            Check(CudaDriver.cuGraphInstantiateWithFlags(out nint exec, graph, 0));
            result.SetHandle(exec);
            return result;
        }

        protected override bool ReleaseHandle()
        {
            using CudaContextScope scope = CudaDevice.Get(_device).Activate();
            return CudaDriver.cuGraphExecDestroy(handle) == CuResult.Success;
        }
    }
}
