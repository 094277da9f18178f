using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>A disposed tensor (or one whose memory was freed under it) is an error naming the argument, never a read of freed memory.</summary>
public sealed class DisposedTensorTests
{
    private const int N = 8;
    private const int Hidden = 512;
    private const int Experts = 4;

    private static ObjectDisposedException ThrowsDisposed(string name, Action action)
    {
        var e = Assert.Throws<ObjectDisposedException>(action);
        Assert.Equal(name, e.ObjectName);
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void ToArrayOfADisposedTensorThrows()
    {
        var t = DeviceTensor.FromArray<int>([1, 2, 3, 4], [2, 2]);
        t.Dispose();
        Assert.True(t.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<int>());
        Assert.Throws<ObjectDisposedException>(() => t.At<int>(0, 0));
        Assert.Throws<ObjectDisposedException>(() => t.To(DeviceTensor.HostDevice));
        Assert.Contains("disposed", t.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void AViewDiesWithItsOwner()
    {
        var owner = DeviceTensor.FromArray<int>([1, 2, 3, 4], [2, 2]);
        DeviceTensor view = owner.View(4);
        DeviceTensor rows = owner.Slice(1, 1);
        Assert.Equal([1, 2, 3, 4], view.ToArray<int>());
        owner.Dispose();
        Assert.True(view.IsDisposed);
        Assert.True(rows.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => view.ToArray<int>());
        Assert.Throws<ObjectDisposedException>(() => rows.AsSpan<int>());
    }

    [Fact]
    public void DisposingAViewLeavesTheOwnerUsable()
    {
        using var owner = DeviceTensor.FromArray<int>([1, 2, 3, 4], [2, 2]);
        owner.View(4).Dispose();
        Assert.False(owner.IsDisposed);
        Assert.Equal([1, 2, 3, 4], owner.ToArray<int>());
    }

    [Fact]
    public void DispatchNamesADisposedX()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        x.Dispose();
        ThrowsDisposed("x", () => routing.Dispatch(x));
    }

    [Fact]
    public void DispatchNamesADisposedLayoutTensor()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        routing.Layout.Dispose();
        ThrowsDisposed("layout.NumTokensPerRank", () => routing.Dispatch(x));
    }

    [Fact]
    public void GetDispatchLayoutNamesADisposedTopkIdx()
    {
        using var buffer = HostBuffers.Single();
        DeviceTensor topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        topk.Dispose();
        ThrowsDisposed("topkIdx", () => buffer.GetDispatchLayout(topk, Experts));
    }

    [Fact]
    public void CombineAfterTheDispatchResultWasDisposedNamesX()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        DispatchResult received = routing.Dispatch(x);
        using DispatchHandle handle = received.Handle!;
        received.Dispose(); // as `using var received = buffer.Dispatch(…)` does before a later combine
        ThrowsDisposed("x", () => buffer.Combine(received.RecvX, handle));
    }

    [Fact]
    public void CombineAndCachedDispatchNameADisposedHandle()
    {
        using var buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using DeviceTensor x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult received = routing.Dispatch(x);
        received.Handle!.Dispose();
        ThrowsDisposed("handle", () => buffer.Combine(received.RecvX, received.Handle));
        ThrowsDisposed("handle", () => buffer.Dispatch(x, received.Handle));
    }

    [Fact]
    public void LowLatencyCallsNameTheDisposedArgument()
    {
        using var buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts),
            options: new EpBufferOptions { EnableShrink = true });
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var weights = DeviceTensor.FromArray<float>([1f, 1f, 1f, 1f], [2, 2]);
        LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: false);
        using var expertOut = DeviceTensor.Zeros(DType.BFloat16, dispatched.PackedRecvX.Shape);

        var gone = HostBuffers.Topk([0, 1, 2, 3], 2);
        gone.Dispose();
        ThrowsDisposed("topkIdx", () => buffer.LowLatencyDispatch(x, gone, N, Experts));
        dispatched.Dispose();
        ThrowsDisposed("x", () => buffer.LowLatencyCombine(dispatched.PackedRecvX, topk, weights, dispatched.Handle));
        dispatched.Handle.Dispose();
        ThrowsDisposed("handle", () => buffer.LowLatencyCombine(expertOut, topk, weights, dispatched.Handle));

        var mask = HostBuffers.Zeros(DType.Int32, 1);
        mask.Dispose();
        ThrowsDisposed("maskStatus", () => buffer.LowLatencyQueryMaskBuffer(mask));
    }
}
