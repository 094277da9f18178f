using DeepEP.Backends.Nccl;

namespace DeepEP.Tests.Backends.Nccl;

/// <summary>The NCCL backend's low-latency transfer plan: the host reference's packing order, and masking agreed by both sides of a pair.</summary>
public sealed class NcclLowLatencyPlanTests
{
    // R = 2, E = 4 (two local experts), N = 4; rank 0 routes tokens [[1, 2], [3, -1], [2, 0]].
    private static readonly long[] TopkIdx = [1, 2, 3, -1, 2, 0];

    [Fact]
    public void MessagesGoPerExpertInTokenSlotOrderAndLandSourcesAscending()
    {
        bool[] masked = new bool[2];
        int[] mine = NcclLowLatencyPlan.ExchangeRecord(TopkIdx, 4, masked);
        Assert.Equal([0, 0, 1, 1, 2, 1], mine);
        int[] peer = [0, 0, 2, 0, 1, 3];
        using NcclLowLatencyPlan plan = NcclLowLatencyPlan.Build(TopkIdx, 2, 0, 4, 4, [mine, peer], masked);

        Assert.Equal([2L, 3L], plan.SendCounts);
        Assert.Equal([0L, 2L], plan.SendOffsets);
        Assert.Equal([2, 0, 0, 2, 1], plan.Blob.AsSpan(plan.TokensOffset, plan.TotalSent).ToArray());
        Assert.Equal([1, 2, 4, -1, 3, 0], plan.Blob.AsSpan(plan.SlotsOffset, TopkIdx.Length).ToArray());
        Assert.Equal([2L, 2L], plan.RecvCounts);
        Assert.Equal([3, 1], plan.Blob.AsSpan(plan.CountsOffset, 2).ToArray());
        long[] layout = System.Runtime.InteropServices.MemoryMarshal.Cast<int, long>(plan.Blob.AsSpan(0, plan.CountsOffset)).ToArray();
        Assert.Equal([(0L << 32) | 1, (1L << 32) | 2, (0L << 32) | 1, (1L << 32) | 0], layout);
        // Receive order (source, expert, row) to packed rows e * R*N + j.
        Assert.Equal([0, 8, 1, 2], plan.Blob.AsSpan(plan.RecvRowsOffset, plan.TotalReceived).ToArray());
    }

    [Fact]
    public void APeerThatMasksThisRankIsMaskedAndExchangesNothing()
    {
        bool[] masked = new bool[2];
        int[] mine = NcclLowLatencyPlan.ExchangeRecord(TopkIdx, 4, masked);
        int[] peer = [1, 0, 2, 0, 1, 3];
        using NcclLowLatencyPlan plan = NcclLowLatencyPlan.Build(TopkIdx, 2, 0, 4, 4, [mine, peer], masked);

        Assert.Equal([false, true], masked);
        Assert.Equal([2L, 0L], plan.SendCounts);
        Assert.Equal([2L, 0L], plan.RecvCounts);
        Assert.Equal([1, -1, -1, -1, -1, 0], plan.Blob.AsSpan(plan.SlotsOffset, TopkIdx.Length).ToArray());
    }
}
