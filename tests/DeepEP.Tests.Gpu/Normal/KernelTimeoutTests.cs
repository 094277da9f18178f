using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>A rank that never shows up ends in a CommunicationTimeoutException on the others, never a hang.</summary>
public sealed class KernelTimeoutTests
{
    [Fact]
    public void AMissingPeerTimesOutWithItsName()
    {
        Assert.SkipUnless(CudaDevice.IsAvailable && CudaDevice.Count >= 2, "Needs at least two GPUs with peer access.");
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(2);
        var buffers = new EpBuffer[2];
        Parallel.For(0, 2, r => buffers[r] = new EpBuffer(groups[r], 1L << 28,
            options: new EpBufferOptions { Backend = EpBackendKind.Kernels, Device = r, Timeout = TimeSpan.FromSeconds(2) }));

        // Rank 1 never dispatches: rank 0's count exchange waits for it at the barrier and must give up.
        using DeviceTensor topk = DeviceTensor.FromArray<long>([0, 1, 2, 3], [2, 2], device: 0);
        using DeviceTensor x = DeviceTensor.Zeros(DType.BFloat16, [2, 128], device: 0);
        using DispatchLayout layout = buffers[0].GetDispatchLayout(topk, 4);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<CommunicationTimeoutException>(() => buffers[0].Dispatch(x, numTokensPerRank: layout.NumTokensPerRank,
            isTokenInRank: layout.IsTokenInRank, numTokensPerExpert: layout.NumTokensPerExpert));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"gave up after {started.Elapsed}");
        Assert.Equal(0, e.Rank);
        Assert.Equal(1, e.PeerRank);
        Assert.Contains("rank 1", e.Message);
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
    }
}
