using System.Buffers.Binary;

namespace DeepEP.Tensors;

/// <summary>
/// LogFMT-10, the low-latency combine's compressed row (spec §5.5), as the host reference. A row of H BF16 values
/// becomes a message: S = H / 128 (amax, amin) BF16 pairs of |x| per 128-channel group (4S bytes), then the row in
/// stages of 32 × U 16-byte words (U = 4 when H % 1024 == 0, else 2; 8 or 4 groups). A stage whose every group has
/// amax &lt; 1 and lm &lt; la (la = log2 amax, lm = max(log2 amin, la − 32)) is encoded: each value becomes a 9-bit
/// code of log2|v| on a grid of (la − lm) / 510 per group, plus a sign bit, 16 values in 160 bits; any other stage
/// is sent as raw BF16. The decoder recomputes which stages are encoded from the meta.
/// <para>
/// Our choices where upstream leaves bits to the hardware: log2 and exp2 are <see cref="PortableMath"/>'s; within a
/// stage, 16 consecutive values share a unit of five little-endian 32-bit words (code j at bits [9j, 9j + 9), sign j
/// at bit 144 + j); a code is clamped to 511 against float rounding; the sign of a zero code is dropped. Each line of
/// the arithmetic is one IEEE operation or an explicit FMA, so the kernels' twin (<c>common/logfmt.cuh</c>) matches it
/// bit for bit.
/// </para>
/// </summary>
internal static class LogFmt10
{
    /// <summary>Channels per group (one (amax, amin) pair each).</summary>
    public const int GroupChannels = 128;

    private const int ValuesPerUnit = 16;
    private const int UnitBytes = 20;
    private const int MaxCode = 511;

    /// <summary>Values per stage: 32 lanes × U words × 8 BF16.</summary>
    public static int StageValues(int hidden) => 32 * (hidden % 1024 == 0 ? 4 : 2) * 8;

    /// <summary>Whether a row of <paramref name="hidden"/> channels can be encoded: a positive multiple of 512.</summary>
    public static bool Supports(int hidden) => hidden > 0 && hidden % 512 == 0;

    /// <summary>Bytes of a message whose every stage is encoded: H × 10 / 8 + 4S (upstream's bandwidth figure; 9184 at H = 7168).</summary>
    public static int EncodedBytes(int hidden) => (hidden * 10 / 8) + (4 * (hidden / GroupChannels));

    /// <summary>Bytes of the longest message, every stage raw: the meta and the BF16 row, 4S + 2H (the GPU backends' slot).</summary>
    public static int MaxBytes(int hidden) => (4 * (hidden / GroupChannels)) + (2 * hidden);

    /// <summary>Encodes <paramref name="row"/> (H BF16 values, <see cref="Supports"/>) into a message.</summary>
    public static byte[] Encode(ReadOnlySpan<BFloat16> row)
    {
        int hidden = row.Length;
        int groups = hidden / GroupChannels, stageValues = StageValues(hidden);
        var meta = new (BFloat16 Max, BFloat16 Min)[groups];
        for (int g = 0; g < groups; g++)
        {
            meta[g] = AbsRange(row.Slice(g * GroupChannels, GroupChannels));
        }
        var message = new List<byte>(4 * groups + (2 * hidden));
        Span<byte> pair = stackalloc byte[4];
        foreach ((BFloat16 max, BFloat16 min) in meta)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(pair, max.Bits);
            BinaryPrimitives.WriteUInt16LittleEndian(pair[2..], min.Bits);
            message.AddRange(pair.ToArray());
        }
        for (int start = 0; start < hidden; start += stageValues)
        {
            ReadOnlySpan<BFloat16> stage = row.Slice(start, stageValues);
            GroupGrid[]? grids = Grids(meta, start / GroupChannels, stageValues / GroupChannels);
            if (grids is null)
            {
                foreach (BFloat16 v in stage)
                {
                    message.Add((byte)v.Bits);
                    message.Add((byte)(v.Bits >> 8));
                }
                continue;
            }
            var unit = new byte[UnitBytes];
            for (int u = 0; u < stageValues / ValuesPerUnit; u++)
            {
                Array.Clear(unit);
                for (int j = 0; j < ValuesPerUnit; j++)
                {
                    int i = (u * ValuesPerUnit) + j;
                    BFloat16 v = stage[i];
                    int code = grids[i / GroupChannels].Code(v);
                    SetBits(unit, 9 * j, 9, (uint)code);
                    SetBits(unit, 144 + j, 1, code != 0 && (v.Bits & 0x8000) != 0 ? 1u : 0u);
                }
                message.AddRange(unit);
            }
        }
        return [.. message];
    }

    /// <summary>Decodes a message of a row of <paramref name="values"/>.Length channels into float values.</summary>
    /// <exception cref="InvalidOperationException">The message's length does not match what its meta says.</exception>
    public static void Decode(ReadOnlySpan<byte> message, Span<float> values)
    {
        int hidden = values.Length;
        int groups = hidden / GroupChannels, stageValues = StageValues(hidden);
        var meta = new (BFloat16 Max, BFloat16 Min)[groups];
        for (int g = 0; g < groups; g++)
        {
            meta[g] = (new BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(message[(4 * g)..])), new BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(message[((4 * g) + 2)..])));
        }
        int offset = 4 * groups;
        for (int start = 0; start < hidden; start += stageValues)
        {
            GroupGrid[]? grids = Grids(meta, start / GroupChannels, stageValues / GroupChannels);
            int stageBytes = grids is null ? 2 * stageValues : stageValues / ValuesPerUnit * UnitBytes;
            if (offset + stageBytes > message.Length)
            {
                throw new InvalidOperationException($"A LogFMT-10 message of {message.Length} bytes ends inside the stage at channel {start} of {hidden}.");
            }
            ReadOnlySpan<byte> stage = message.Slice(offset, stageBytes);
            for (int i = 0; i < stageValues; i++)
            {
                if (grids is null)
                {
                    values[start + i] = new BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(stage[(2 * i)..])).ToFloat();
                    continue;
                }
                ReadOnlySpan<byte> unit = stage.Slice(i / ValuesPerUnit * UnitBytes, UnitBytes);
                int j = i % ValuesPerUnit;
                float magnitude = grids[i / GroupChannels].Value((int)GetBits(unit, 9 * j, 9));
                values[start + i] = GetBits(unit, 144 + j, 1) != 0 ? -magnitude : magnitude;
            }
            offset += stageBytes;
        }
        if (offset != message.Length)
        {
            throw new InvalidOperationException($"A LogFMT-10 message of {message.Length} bytes has {message.Length - offset} bytes past its {hidden} channels.");
        }
    }

    private static (BFloat16 Max, BFloat16 Min) AbsRange(ReadOnlySpan<BFloat16> group)
    {
        ushort max = 0, min = 0x7F80;
        foreach (BFloat16 v in group)
        {
            ushort magnitude = (ushort)(v.Bits & 0x7FFF); // BF16 magnitudes order as their bits (NaN aside)
            max = Math.Max(max, magnitude);
            min = Math.Min(min, magnitude);
        }
        return (new BFloat16(max), new BFloat16(min));
    }

    // The stage's grids, or null when it goes raw: some group has amax >= 1 (or NaN) or no room below it (lm >= la).
    private static GroupGrid[]? Grids((BFloat16 Max, BFloat16 Min)[] meta, int firstGroup, int count)
    {
        var grids = new GroupGrid[count];
        for (int g = 0; g < count; g++)
        {
            float la = PortableMath.Log2(meta[firstGroup + g].Max.ToFloat());
            float lm = MathF.Max(PortableMath.Log2(meta[firstGroup + g].Min.ToFloat()), la - 32f);
            if (!(la < 0f && lm < la))
            {
                return null;
            }
            grids[g] = new GroupGrid(la, lm);
        }
        return grids;
    }

    private static void SetBits(byte[] unit, int bit, int width, uint value)
    {
        for (int b = 0; b < width; b++)
        {
            if ((value >> b & 1) != 0)
            {
                unit[(bit + b) / 8] |= (byte)(1 << ((bit + b) % 8));
            }
        }
    }

    private static uint GetBits(ReadOnlySpan<byte> unit, int bit, int width)
    {
        uint value = 0;
        for (int b = 0; b < width; b++)
        {
            value |= (uint)((unit[(bit + b) / 8] >> ((bit + b) % 8)) & 1) << b;
        }
        return value;
    }

    // One group's code grid: step = (la - lm) / 510; code = floor(max(log2|v| / step + bias - lm / step, 0)) with
    // bias = 2 - log2((1 + 2^step) / 2) / step, which puts each decoded value at the grid point that halves the
    // relative error of the cell; decoding is 2^((code - 1) * step + lm).
    private readonly struct GroupGrid
    {
        private readonly float _lm, _step, _bias, _lmOverStep;

        public GroupGrid(float la, float lm)
        {
            _lm = lm;
            _step = (la - lm) / 510f;
            _bias = 2f - (PortableMath.Log2((1f + PortableMath.Exp2(_step)) / 2f) / _step);
            _lmOverStep = lm / _step;
        }

        public int Code(BFloat16 v)
        {
            float scaled = (PortableMath.Log2(MathF.Abs(v.ToFloat())) / _step) + _bias - _lmOverStep;
            return (int)MathF.Min(MathF.Floor(MathF.Max(scaled, 0f)), MaxCode);
        }

        public float Value(int code) => code == 0 ? 0f : PortableMath.Exp2(MathF.FusedMultiplyAdd(code - 1, _step, _lm));
    }
}
