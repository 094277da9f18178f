using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu;

/// <summary>The LogFMT-10 codec kernels against the host codec (<see cref="LogFmt10"/>), bit for bit, on rows that mix encoded and raw stages.</summary>
[Collection(GpuCollection.Name)]
public sealed class LogFmtCodecKernelTests(GpuFixture gpu)
{
    public static TheoryData<int, int> Cases => new() { { 1, 512 }, { 37, 2048 }, { 64, 7168 }, { 9, 2560 }, { 3, 32768 } };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodeAndDecodeMatchTheHostCodecBitForBit(int rows, int hidden)
    {
        gpu.Require();
        var random = new Random(HashCode.Combine(rows, hidden));
        BFloat16[] x = Rows(random, rows, hidden);
        long maxBytes = LogFmtCodecRuntime.MaxBytes(hidden);
        using DeviceTensor deviceX = DeviceTensor.FromArray<BFloat16>(x, [rows, hidden], device: 0);
        using DeviceTensor messages = DeviceTensor.Empty(DType.UInt8, [rows, maxBytes], device: 0);
        using DeviceTensor bytes = DeviceTensor.Empty(DType.Int32, [rows], device: 0);
        using DeviceTensor decoded = DeviceTensor.Empty(DType.Float32, [rows, hidden], device: 0);
        messages.FillBytes(0xCD);
        bytes.FillBytes(0xCD);
        decoded.FillBytes(0xCD);

        LogFmtCodecRuntime.EncodeInto(deviceX, messages, bytes);
        LogFmtCodecRuntime.DecodeInto(messages, decoded);

        byte[] gotMessages = messages.ToArray<byte>();
        int[] gotBytes = bytes.ToArray<int>();
        float[] gotValues = decoded.ToArray<float>();
        int encodedStages = 0, rawStages = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<BFloat16> row = x.AsSpan(r * hidden, hidden);
            byte[] want = LogFmt10.Encode(row);
            Assert.Equal(want.Length, gotBytes[r]);
            Assert.Equal(want, gotMessages.AsSpan((int)(r * maxBytes), want.Length).ToArray());
            var wantValues = new float[hidden];
            LogFmt10.Decode(want, wantValues);
            Assert.Equal(wantValues.Select(BitConverter.SingleToUInt32Bits), gotValues.AsSpan(r * hidden, hidden).ToArray().Select(BitConverter.SingleToUInt32Bits));
            int stageValues = LogFmt10.StageValues(hidden), stages = hidden / stageValues;
            int raw = (want.Length - (4 * (hidden / LogFmt10.GroupChannels)) - (stages * stageValues / 16 * 20)) / ((2 * stageValues) - (stageValues / 16 * 20));
            rawStages += raw;
            encodedStages += stages - raw;
        }
        Assert.True(rows < 9 || (encodedStages > 0 && rawStages > 0), $"{encodedStages} encoded and {rawStages} raw stages: the case must test both");
    }

    // Mostly |x| < 1 (encoded stages) at several scales, with some stages holding a value >= 1 or an all-zero group (raw),
    // and zeros, negative zeros and tiny values inside encoded groups.
    private static BFloat16[] Rows(Random random, int rows, int hidden)
    {
        var x = new BFloat16[rows * hidden];
        int stageValues = LogFmt10.StageValues(hidden);
        for (int r = 0; r < rows; r++)
        {
            double scale = Math.Pow(2, -random.Next(0, 20));
            for (int h = 0; h < hidden; h++)
            {
                double v = random.Next(50) switch
                {
                    0 => 0.0,
                    1 => -0.0,
                    2 => scale * Math.Pow(2, -random.Next(10, 40)),
                    _ => scale * ((random.NextDouble() * 1.9) - 0.95),
                };
                x[(r * hidden) + h] = BFloat16.FromFloat((float)v);
            }
            int stage = random.Next(hidden / stageValues);
            switch (r % 3)
            {
                case 1:
                    x[(r * hidden) + (stage * stageValues) + random.Next(stageValues)] = BFloat16.FromFloat(-1.5f);
                    break;
                case 2:
                    Array.Fill(x, BFloat16.FromFloat(0f), (r * hidden) + (stage * stageValues), LogFmt10.GroupChannels);
                    break;
            }
        }
        return x;
    }
}
