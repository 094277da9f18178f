using System.Runtime.CompilerServices;
using DeepEP.Cuda;

namespace DeepEP.Tests.Cuda;

/// <summary>A release that may wait for the GPU runs on dispose at once, but never on the finalizer thread.</summary>
public sealed class DeferredReleaseHandleTests
{
    [Fact]
    public void DisposeReleasesAtOnce()
    {
        var released = new StrongBox<int>();
        using (new CountingHandle(released, 1))
        {
        }
        Assert.Equal(1, released.Value);
    }

    [Fact]
    public void AFinalisedHandleIsReleasedAtTheNextDrainNotByTheFinalizer()
    {
        DeferredReleaseHandle.DrainDeferred();
        var released = new StrongBox<int>();
        Abandon(released);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(0, released.Value);
        DeferredReleaseHandle.DrainDeferred();
        Assert.Equal(1, released.Value);
    }

    // Not inlined, so no live local keeps the handle reachable.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Abandon(StrongBox<int> released) => _ = new CountingHandle(released, 2);

    private sealed class CountingHandle : DeferredReleaseHandle
    {
        private readonly StrongBox<int> _released;

        public CountingHandle(StrongBox<int> released, nint value)
        {
            _released = released;
            SetHandle(value);
        }

        protected override Func<bool> CreateRelease()
        {
            StrongBox<int> released = _released;
            return () => Interlocked.Increment(ref released.Value) > 0;
        }
    }
}
