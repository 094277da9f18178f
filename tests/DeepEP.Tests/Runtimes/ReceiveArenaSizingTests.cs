using DeepEP.Ep;
using DeepEP.Ep.Heuristics;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Runtimes;

/// <summary>The receive arena of the one-process-per-GPU model: its layout, its capacity and the size hint agree.</summary>
public sealed class ReceiveArenaSizingTests
{
    [Theory]
    [InlineData(0, 4096, 0, 0)]
    [InlineData(1, 256, 2, 1)]
    [InlineData(37, 4096, 16, 6)]
    [InlineData(8193, 14336, 56, 8)]
    public void RegionsAreAlignedDisjointAndInsideTheBytesFor(long rows, long rowBytes, int numScales, int numTopk)
    {
        ReceiveArenaLayout layout = ReceiveArenaLayout.Of(rows, rowBytes, numScales, numTopk);
        long[] starts = [layout.X, layout.XScales, layout.SrcIdx, layout.TopkIdx, layout.TopkWeights, layout.Bytes];
        long[] sizes = [rows * rowBytes, rows * numScales * 4, rows * 4, rows * numTopk * 8, rows * numTopk * 4];
        for (int i = 0; i < sizes.Length; i++)
        {
            Assert.Equal(0, starts[i] % 128);
            Assert.True(starts[i] + sizes[i] <= starts[i + 1] || (i == sizes.Length - 1 && starts[i] + sizes[i] == layout.Bytes));
        }
        Assert.True(layout.Bytes <= ReceiveArenaLayout.BytesFor(rows, rowBytes, numScales, numTopk));
    }

    [Theory]
    [InlineData(0, 4096, 0, 0)]
    [InlineData(37, 4096, 16, 6)]
    [InlineData(8193, 14336, 56, 8)]
    public void BytesForHoldsTheRowsAndNoArenaHoldsMoreThanItsBytes(long rows, long rowBytes, int numScales, int numTopk)
    {
        long bytes = ReceiveArenaLayout.BytesFor(rows, rowBytes, numScales, numTopk);
        long fit = ReceiveArenaLayout.RowsThatFit(bytes, rowBytes, numScales, numTopk);
        Assert.True(fit >= rows);
        Assert.True(ReceiveArenaLayout.Of(fit, rowBytes, numScales, numTopk).Bytes <= bytes);
        long smaller = ReceiveArenaLayout.RowsThatFit(bytes - 129, rowBytes, numScales, numTopk);
        Assert.True(ReceiveArenaLayout.Of(smaller, rowBytes, numScales, numTopk).Bytes <= bytes - 129);
    }

    [Fact]
    public void ATinyArenaHoldsNoRows() => Assert.Equal(0, ReceiveArenaLayout.RowsThatFit(128, 4096, 0, 8));

    [Fact]
    public void TheHintWithTokensCoversEveryRowAllRanksCanSendForBothDirections()
    {
        var config = new EpConfig(24, 6, 256);
        const int hidden = 7168, ranks = 8, tokens = 4096, topk = 8;
        long hint = config.GetNvlBufferSizeHint(hidden * 2L, ranks, tokens, topk);
        long arena = hint - BufferSizeHints.NvlBufferBytes;
        Assert.Equal(0, hint % BufferSizeHints.Alignment);
        // FP8 dispatch (scales per 128 channels) with regions sized for the BF16 rows combine sends back, as the kernels backend lays them out.
        Assert.True(ReceiveArenaLayout.RowsThatFit(arena, hidden * 2L, hidden / 128, topk) >= ranks * tokens);
        Assert.True(hint > config.GetNvlBufferSizeHint(hidden * 2L, ranks));
    }
}
