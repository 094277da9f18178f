using DeepEP.Runtimes;

namespace DeepEP.Tests.Runtimes;

/// <summary>The kernels backend's dispatch messages stay on the 16-byte copy grid and inside the receive area for every hidden size.</summary>
public sealed class LowLatencyLayoutTests
{
    [Fact]
    public void Fp8MessagesArePaddedTo16BytesForEveryMultipleOf128()
    {
        for (int hidden = 128; hidden <= 16384; hidden += 128)
        {
            var layout = new LowLatencyLayout(64, hidden, 256);
            long unpadded = hidden + (4L * layout.NumScales);
            long row = layout.DispatchRowBytes(useFp8: true);
            Assert.True(row % 16 == 0 && row >= unpadded && row < unpadded + 16, $"H = {hidden}: {row} bytes for {unpadded}");
            Assert.Equal(2L * hidden, layout.DispatchRowBytes(useFp8: false));
        }
    }

    [Fact]
    public void AnOddNumberOfGroupsGetsFourBytesOfPadding() =>
        Assert.Equal(1152 + (9 * 4) + 12, new LowLatencyLayout(48, 1152, 16).DispatchRowBytes(useFp8: true));

    [Theory]
    [InlineData(1152, 8, 16, 4)]
    [InlineData(7168, 8, 256, 8)]
    [InlineData(128, 8, 64, 9)]
    public void SourceAreasFitTheReceiveAreaAtProductionShapes(int hidden, int ranks, int experts, int topk)
    {
        var layout = new LowLatencyLayout(128, hidden, experts);
        Assert.True(ranks * layout.DispatchSourceBytes(topk, useFp8: true) <= layout.RecvBytes);
        Assert.True(ranks * layout.DispatchSourceBytes(topk, useFp8: false) <= layout.RecvBytes);
    }
}
