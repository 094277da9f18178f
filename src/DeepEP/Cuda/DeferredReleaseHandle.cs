using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace DeepEP.Cuda;

/// <summary>
/// A CUDA allocation's handle whose release may wait for the whole GPU (<c>cuMemFree</c>, <c>cuMemFreeHost</c>,
/// <c>cuIpcCloseMemHandle</c>), and so is never run by the finalizer thread: in the middle of an operation it would hold
/// back the launches of ranks that are threads sharing the GPU while their peers spin until the deadline. A handle
/// nobody disposed is released instead at the next allocation of one of these kinds (<see cref="DrainDeferred"/>),
/// itself a call that may wait.
/// </summary>
internal abstract class DeferredReleaseHandle : SafeHandle
{
    private static readonly ConcurrentQueue<Func<bool>> s_deferred = new();
    private bool _finalizing;

    protected DeferredReleaseHandle()
        : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Runs the releases the finalizer kept so far; called before such an allocation.</summary>
    public static void DrainDeferred()
    {
        while (s_deferred.TryDequeue(out Func<bool>? release))
        {
            _ = release();
        }
    }

    /// <summary>Whether releasing may wait for the GPU (false for a stream-ordered free, which never does).</summary>
    protected virtual bool ReleaseMayWait => true;

    /// <summary>The release of the current handle, capturing what it needs (never this object).</summary>
    protected abstract Func<bool> CreateRelease();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _finalizing = !disposing;
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected sealed override bool ReleaseHandle()
    {
        Func<bool> release = CreateRelease();
        if (_finalizing && ReleaseMayWait)
        {
            s_deferred.Enqueue(release);
            return true;
        }
        return release();
    }
}
