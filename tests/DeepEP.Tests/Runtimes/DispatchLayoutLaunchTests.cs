using DeepEP.Runtimes;

namespace DeepEP.Tests.Runtimes;

/// <summary>
/// <c>get_dispatch_layout</c> counts in one block's shared memory (no fill first) only where a token per thread in two
/// rounds covers the tokens and the R + E counters fit 48 KiB; otherwise the grid adds into zeroed counts.
/// </summary>
public sealed class DispatchLayoutLaunchTests
{
    [Theory]
    [InlineData(0, 8, 256, true)]
    [InlineData(256, 8, 256, true)]
    [InlineData(2048, 8, 256, true)]
    [InlineData(2049, 8, 256, false)]
    [InlineData(4096, 8, 256, false)]
    [InlineData(256, 32, (48 * 1024 / 4) - 32, true)]
    [InlineData(256, 32, (48 * 1024 / 4) - 31, false)]
    public void OneBlockWhereTheTokensAndCountersFit(int tokens, int ranks, int experts, bool oneBlock) =>
        Assert.Equal(oneBlock, DispatchLayoutRuntime.CountsInOneBlock(new DispatchLayoutParams
        {
            NumTokens = tokens,
            NumTopk = 8,
            NumExperts = experts,
            NumRanks = ranks,
        }));
}
