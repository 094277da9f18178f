using DeepEP.Distributed;

namespace DeepEP.Tests.Distributed;

public sealed class ProcessGroupTimeoutExceptionTests
{
    [Theory]
    [InlineData(new[] { 3 }, "rank 3 did not arrive")]
    [InlineData(new[] { 1, 2 }, "ranks 1, 2 did not arrive")]
    [InlineData(new[] { 0, 1, 2, 3, 5, 8, 9, 10 }, "ranks 0-3, 5, 8-10 did not arrive")]
    public void MessageListsTheMissingRanksCompactly(int[] missing, string expected)
    {
        var error = new ProcessGroupTimeoutException("Barrier", missing, TimeSpan.FromSeconds(1.5), "collective #4");
        Assert.Equal($"Barrier timed out after 1.5 s: {expected} (collective #4).", error.Message);
    }
}
