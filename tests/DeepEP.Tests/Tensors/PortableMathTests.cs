using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary>The host side of the log2 / exp2 the LogFMT-10 reference and its kernels twin share: accuracy and edges.</summary>
public sealed class PortableMathTests
{
    // The bounds are the worst errors of an exhaustive scan of every float (2.476e-7 at 0.4998425 for log2, 7.41e-8
    // at -1.5267602 for exp2) rounded up; the samples below guard them, the worst points are checked by name.
    private const double Log2Bound = 2.5e-7;
    private const double Exp2Bound = 7.5e-8;

    [Fact]
    public void Log2IsWithinItsMeasuredBoundOverTheWholeFloatRange()
    {
        AssertLog2Accurate(0.4998425f);
        AssertLog2Accurate(0.4971101f);
        Gen.UInt[1, 0x7F7FFFFF].Sample(bits => AssertLog2Accurate(BitConverter.UInt32BitsToSingle(bits)), iter: 200_000);
    }

    [Fact]
    public void Log2IsExactAtPowersOfTwoAndHandlesItsEdges()
    {
        for (int e = -149; e < 128; e++)
        {
            Assert.Equal(e, PortableMath.Log2(MathF.ScaleB(1f, e)));
        }
        Assert.Equal(float.NegativeInfinity, PortableMath.Log2(0f));
        Assert.Equal(float.NegativeInfinity, PortableMath.Log2(-0f));
        Assert.Equal(float.PositiveInfinity, PortableMath.Log2(float.PositiveInfinity));
        Assert.True(float.IsNaN(PortableMath.Log2(-1f)));
        Assert.True(float.IsNaN(PortableMath.Log2(float.NaN)));
    }

    [Fact]
    public void Exp2IsWithinItsMeasuredBoundRelative()
    {
        AssertExp2Accurate(-1.5267602f);
        Gen.Float[-126f, 127.9f].Sample(AssertExp2Accurate, iter: 200_000);
    }

    [Fact]
    public void Exp2IsExactAtIntegersAndHandlesItsEdges()
    {
        for (int n = -149; n < 128; n++)
        {
            Assert.Equal(MathF.ScaleB(1f, n), PortableMath.Exp2(n));
        }
        Assert.Equal(float.PositiveInfinity, PortableMath.Exp2(128f));
        Assert.Equal(0f, PortableMath.Exp2(-200f));
        Assert.True(float.IsNaN(PortableMath.Exp2(float.NaN)));
    }

    private static void AssertLog2Accurate(float x)
    {
        double want = Math.Log2(x);
        Assert.True(Math.Abs(PortableMath.Log2(x) - want) <= Log2Bound * Math.Max(1, Math.Abs(want)), $"log2({x:R}) = {PortableMath.Log2(x):R}, want {want:R}");
    }

    private static void AssertExp2Accurate(float x)
    {
        double want = Math.Pow(2, x);
        Assert.True(Math.Abs(PortableMath.Exp2(x) - want) <= Exp2Bound * want, $"exp2({x:R}) = {PortableMath.Exp2(x):R}, want {want:R}");
    }
}
