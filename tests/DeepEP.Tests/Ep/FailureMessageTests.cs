using DeepEP.Ep;

namespace DeepEP.Tests.Ep;

/// <summary>A passing check formats nothing (not even its holes); a failing one throws its whole message, naming the argument.</summary>
public sealed class FailureMessageTests
{
    [Fact]
    public void APassingCheckDoesNotFormatItsMessage() =>
        TensorChecks.That(true, "x", $"x is {Unreachable()} wide");

    [Fact]
    public void AFailingCheckThrowsTheFormattedMessage()
    {
        int tokens = 7;
        double ratio = 0.5;
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.That(tokens < 4, "x", $"x has {tokens} tokens ({ratio:P0}, {tokens,3}) but 4 fit."));
        Assert.Equal("x", error.ParamName);
        Assert.StartsWith($"x has 7 tokens ({0.5:P0},   7) but 4 fit.", error.Message, StringComparison.Ordinal);
    }

    private static int Unreachable() => throw new InvalidOperationException("a passing check evaluated its message");
}
