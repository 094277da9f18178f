using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// Makes a device's primary context current on the calling thread and, on <see cref="Dispose"/>, restores the
/// context that was current before. Obtain one with <see cref="CudaDevice.Activate"/>:
/// <c>using var scope = device.Activate();</c>.
/// </summary>
public readonly struct CudaContextScope : IDisposable
{
    private readonly nint _previous;
    private readonly bool _restore;

    internal CudaContextScope(nint context)
    {
        Check(CudaDriver.cuCtxGetCurrent(out nint previous));
        if (previous != context)
        {
            Check(CudaDriver.cuCtxSetCurrent(context));
            _previous = previous;
            _restore = true;
        }
    }

    /// <summary>Restores the previously current context (nothing when it was already this one).</summary>
    public void Dispose()
    {
        if (_restore)
        {
            Check(CudaDriver.cuCtxSetCurrent(_previous));
        }
    }
}
