using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Ep;

/// <summary>
/// The caller's stream argument of every operation. The host backend runs on the CPU and has no streams, so a CUDA
/// stream (here a borrowed handle, which touches no driver) is refused by name before anything runs; a null stream is
/// the default every other test exercises.
/// </summary>
public sealed class StreamArgumentTests
{
    private const int N = 8;
    private const int Hidden = 512;
    private const int Experts = 4;

    public static TheoryData<string> Operations =>
    [
        "GetDispatchLayout", "Dispatch(layout)", "Dispatch(scales, layout)", "Dispatch(handle)", "Dispatch(scales, handle)", "Combine",
        "CleanLowLatencyBuffer", "LowLatencyDispatch", "LowLatencyCombine", "LowLatencyUpdateMaskBuffer", "LowLatencyQueryMaskBuffer",
        "LowLatencyCleanMaskBuffer",
    ];

    [Theory]
    [MemberData(nameof(Operations))]
    public void AStreamOnAHostBufferIsRefusedByName(string operation)
    {
        using EpBuffer buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts),
            options: new EpBufferOptions { EnableShrink = true });
        using var x = HostBuffers.Zeros(DType.BFloat16, 2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var weights = HostBuffers.Zeros(DType.Float32, 2, 2);
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, Experts);
        using DispatchResult dispatched = buffer.Dispatch(x, layout, topk, weights);
        using DispatchHandle handle = dispatched.Handle!;
        using LowLatencyDispatchResult lowLatency = buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: false);
        using var mask = HostBuffers.Zeros(DType.Int32, 1);
        CudaStream stream = CudaStream.FromHandle(0x1000, device: 0);
        Action call = operation switch
        {
            "GetDispatchLayout" => () => buffer.GetDispatchLayout(topk, Experts, stream: stream),
            "Dispatch(layout)" => () => buffer.Dispatch(x, layout, topk, weights, stream: stream),
            "Dispatch(scales, layout)" => () => buffer.Dispatch(x, null, layout, topk, weights, stream: stream),
            "Dispatch(handle)" => () => buffer.Dispatch(x, handle, stream: stream),
            "Dispatch(scales, handle)" => () => buffer.Dispatch(x, null, handle, stream: stream),
            "Combine" => () => buffer.Combine(dispatched.RecvX, handle, stream: stream),
            "CleanLowLatencyBuffer" => () => buffer.CleanLowLatencyBuffer(N, Hidden, Experts, stream),
            "LowLatencyDispatch" => () => buffer.LowLatencyDispatch(x, topk, N, Experts, stream: stream),
            "LowLatencyCombine" => () => buffer.LowLatencyCombine(lowLatency.PackedRecvX, topk, weights, lowLatency.Handle, stream: stream),
            "LowLatencyUpdateMaskBuffer" => () => buffer.LowLatencyUpdateMaskBuffer(0, mask: true, stream),
            "LowLatencyQueryMaskBuffer" => () => buffer.LowLatencyQueryMaskBuffer(mask, stream),
            "LowLatencyCleanMaskBuffer" => () => buffer.LowLatencyCleanMaskBuffer(stream),
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
        };
        var e = HostBuffers.Throws<ArgumentException>("stream", call);
        Assert.Contains("host", e.Message, StringComparison.Ordinal);
        Assert.Contains("stream: null", e.Message, StringComparison.Ordinal);
        // Refused before anything ran: the mask is untouched and the buffer still serves calls with the default stream.
        buffer.LowLatencyQueryMaskBuffer(mask);
        Assert.Equal([0], mask.ToArray<int>());
        using DispatchResult again = buffer.Dispatch(x, handle);
        Assert.Equal(dispatched.RecvX.AsSpan<byte>().ToArray(), again.RecvX.AsSpan<byte>().ToArray());
    }

    [Fact]
    public void ANullStreamIsTheDefault()
    {
        using EpBuffer buffer = HostBuffers.Single();
        using var x = DispatchArgumentTests.Random(4, 128);
        using var topk = HostBuffers.Topk([0, 1, 2, -1, 3, 4, 5, 6], 2);
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, 8, stream: null);
        using DispatchResult implicitStream = buffer.Dispatch(x, layout);
        using DispatchResult explicitNull = buffer.Dispatch(x, layout, stream: null);
        Assert.Equal(implicitStream.RecvX.AsSpan<byte>().ToArray(), explicitNull.RecvX.AsSpan<byte>().ToArray());
        implicitStream.Handle!.Dispose();
        explicitNull.Handle!.Dispose();
    }
}
