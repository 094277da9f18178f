using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Runtimes;

/// <summary>
/// The kernels backend's dispatch messages stay on the 16-byte copy grid and inside the receive area for every hidden
/// size, and its LogFMT-10 combine slots are DeepEP's combine slots.
/// </summary>
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

    [Fact]
    public void LogFmtSlotsAreTheCombineSlotsOn16ByteBoundaries()
    {
        for (int hidden = 512; hidden <= LogFmtCodecRuntime.MaxHidden; hidden += 512)
        {
            var layout = new LowLatencyLayout(64, hidden, 256);
            Assert.Equal(layout.CombineMessageBytes, LogFmt10.MaxBytes(hidden));
            Assert.Equal(0, LogFmt10.MaxBytes(hidden) % 16);
            Assert.True(LogFmtCodecRuntime.Supports(hidden));
        }
        Assert.False(LogFmtCodecRuntime.Supports(LogFmtCodecRuntime.MaxHidden + 512));
        Assert.Throws<NotSupportedException>(() => LogFmtCodecRuntime.CheckCombineHidden(LogFmtCodecRuntime.MaxHidden + 512));
    }

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
