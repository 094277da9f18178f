using System.Buffers.Binary;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary>LogFMT-10 (spec §5.5) on the host: message size, which stages are encoded, the bit layout, and accuracy.</summary>
public sealed class LogFmt10Tests
{
    [Theory]
    [InlineData(7168, 9184)]
    [InlineData(512, 656)]
    [InlineData(2560, 3280)]
    public void AFullyEncodedRowHasUpstreamsSize(int hidden, int bytes)
    {
        BFloat16[] row = Row(hidden, seed: 1, scale: 0.25);
        Assert.Equal(bytes, LogFmt10.EncodedBytes(hidden));
        Assert.Equal(bytes, LogFmt10.Encode(row).Length);
    }

    [Fact]
    public void AStageWithAValueOfOneOrMoreGoesRawAndComesBackExactly()
    {
        BFloat16[] row = Row(2048, seed: 2, scale: 0.25);
        row[1500] = BFloat16.FromFloat(-1.0f); // stage 1 of 2 (1024 values each)
        byte[] message = LogFmt10.Encode(row);
        Assert.Equal((4 * 16) + (1024 * 10 / 8) + (1024 * 2), message.Length);
        float[] decoded = Decode(message, row.Length);
        for (int h = 1024; h < 2048; h++)
        {
            Assert.Equal(row[h].ToFloat(), decoded[h]);
        }
        Assert.NotEqual(row.Take(1024).Select(v => v.ToFloat()), decoded.Take(1024));
    }

    [Fact]
    public void AnAllZeroGroupSendsItsStageRaw()
    {
        BFloat16[] row = Row(512, seed: 3, scale: 0.25);
        Array.Fill(row, BFloat16.FromFloat(0f), 128, 128);
        Assert.Equal((4 * 4) + (512 * 2), LogFmt10.Encode(row).Length);
        Assert.Equal(LogFmt10.MaxBytes(512), LogFmt10.Encode(row).Length);
    }

    [Fact]
    public void EncodedValuesKeepSignZeroAndOrderAndStayWithinOneGridCell()
    {
        BFloat16[] row = Row(1024, seed: 4, scale: 0.05);
        row[7] = BFloat16.FromFloat(0f);
        row[8] = BFloat16.FromFloat(-0f);
        float[] decoded = Decode(LogFmt10.Encode(row), row.Length);
        for (int g = 0; g < 8; g++)
        {
            Span<BFloat16> group = row.AsSpan(g * 128, 128);
            double amax = 0, amin = double.MaxValue;
            foreach (BFloat16 v in group)
            {
                amax = Math.Max(amax, Math.Abs(v.ToFloat()));
                amin = Math.Min(amin, Math.Abs(v.ToFloat()));
            }
            double la = Math.Log2(amax), lm = Math.Max(Math.Log2(amin), la - 32), step = (la - lm) / 510;
            for (int i = 0; i < 128; i++)
            {
                int h = (g * 128) + i;
                double v = row[h].ToFloat(), d = decoded[h];
                if (v == 0)
                {
                    Assert.Equal(0f, decoded[h]);
                    continue;
                }
                Assert.Equal(Math.Sign(v), Math.Sign(d));
                // A value decodes to a grid point 2^(lm + j*step) at most one cell (plus float slack) from log2|v|.
                Assert.InRange(Math.Log2(Math.Abs(d)) - Math.Log2(Math.Abs(v)), -step - 1e-5, step + 1e-5);
            }
        }
        int[] order = [.. Enumerable.Range(0, 128).OrderBy(i => Math.Abs(row[i].ToFloat()))];
        for (int i = 1; i < order.Length; i++)
        {
            Assert.True(Math.Abs(decoded[order[i]]) >= Math.Abs(decoded[order[i - 1]]), "decoding does not keep the order of magnitudes");
        }
    }

    [Fact]
    public void CodesAndSignsSitWhereTheLayoutSays()
    {
        BFloat16[] row = Row(512, seed: 5, scale: 0.1);
        byte[] message = LogFmt10.Encode(row);
        float[] decoded = Decode(message, row.Length);
        // Unit u of the stage holds values 16u..16u+15: code j at bits [9j, 9j+9), sign j at bit 144 + j.
        for (int h = 0; h < row.Length; h++)
        {
            ReadOnlySpan<byte> unit = message.AsSpan((4 * 4) + (h / 16 * 20), 20);
            int j = h % 16;
            var bits = System.Numerics.BigInteger.Zero; // 160 bits: five little-endian words
            for (int w = 4; w >= 0; w--)
            {
                bits = (bits << 32) | BinaryPrimitives.ReadUInt32LittleEndian(unit[(4 * w)..]);
            }
            int code = (int)((bits >> (9 * j)) & 0x1FF);
            bool negative = ((bits >> (144 + j)) & 1) != 0;
            Assert.Equal(code == 0, decoded[h] == 0f);
            Assert.Equal(negative, decoded[h] < 0f);
        }
        Assert.Equal(BFloat16.FromFloat(row.Take(128).Max(v => MathF.Abs(v.ToFloat()))).Bits, BinaryPrimitives.ReadUInt16LittleEndian(message));
        Assert.Equal(BFloat16.FromFloat(row.Take(128).Min(v => MathF.Abs(v.ToFloat()))).Bits, BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(2)));
    }

    [Fact]
    public void AWrongLengthIsRefused()
    {
        byte[] message = LogFmt10.Encode(Row(512, seed: 6, scale: 0.1));
        Assert.Throws<InvalidOperationException>(() => Decode(message[..^1], 512));
        Assert.Throws<InvalidOperationException>(() => Decode([.. message, 0], 512));
    }

    [Theory]
    [InlineData(512, true)]
    [InlineData(7168, true)]
    [InlineData(1152, false)]
    [InlineData(0, false)]
    public void SupportsMultiplesOf512(int hidden, bool supported) => Assert.Equal(supported, LogFmt10.Supports(hidden));

    private static float[] Decode(byte[] message, int hidden)
    {
        var values = new float[hidden];
        LogFmt10.Decode(message, values);
        return values;
    }

    private static BFloat16[] Row(int hidden, int seed, double scale)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, hidden).Select(_ => BFloat16.FromFloat((float)(scale * (random.NextDouble() - 0.5))))];
    }
}
