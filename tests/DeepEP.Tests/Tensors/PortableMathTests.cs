using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary>The host side of the log2 / exp2 the LogFMT-10 reference and its kernels twin share: accuracy and edges.</summary>
public sealed class PortableMathTests
{
    [Fact]
    public void Log2IsWithinTwoTenMillionthsOverTheWholeFloatRange()
    {
        Gen.UInt[1, 0x7F7FFFFF].Sample(bits =>
        {
            float x = BitConverter.UInt32BitsToSingle(bits);
            double want = Math.Log2(x);
            Assert.True(Math.Abs(PortableMath.Log2(x) - want) <= 2e-7 * Math.Max(1, Math.Abs(want)), $"log2({x:R}) = {PortableMath.Log2(x):R}, want {want:R}");
        }, iter: 200_000);
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
    public void Exp2IsWithinThreeTenMillionthsRelative()
    {
        Gen.Float[-126f, 127.9f].Sample(x =>
        {
            double want = Math.Pow(2, x);
            Assert.True(Math.Abs(PortableMath.Exp2(x) - want) <= 3e-7 * want, $"exp2({x:R}) = {PortableMath.Exp2(x):R}, want {want:R}");
        }, iter: 200_000);
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
}
