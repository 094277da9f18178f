using System.Numerics;
using System.Runtime.InteropServices;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// One expert's projection y = W · a in its weights' number format (docs/fused-moe.md, "Arithmetic"): the BF16
// activation row is cast as the mode says (Int8: per row; Fp8: per 128 channels; None: kept), products accumulate in
// float32 (Int8: exact integers, 128 channels per float32 dot product, well under 2^24), and the scales are applied
// per output channel (Int8) or per 128 × 128 block (Fp8) when the block's partial sum is added.
internal sealed class HostLinear
{
    private const int Block = Fp8Cast.ChannelsPerScale;

    // Every E4M3 bit pattern's value: stored weights are widened once per call through this table.
    private static readonly float[] s_fp8Values = [.. Enumerable.Range(0, 256).Select(bits => new Float8E4M3((byte)bits).ToFloat())];

    private readonly MoeQuantMode _mode;
    private readonly int _outputs;
    private readonly int _inputs;
    private readonly float[] _weights;
    private readonly float[] _weightScales;
    private readonly float[] _activation;
    private readonly float[] _activationScales;
    private readonly sbyte[] _int8Row;
    private readonly Float8E4M3[] _fp8Row;

    // Expert `expert` of weights [E, O, K] with scales (Int8: [E, O]; Fp8: [E, O/128, K/128]; None: null).
    public HostLinear(MoeQuantMode mode, DeviceTensor weights, DeviceTensor? scales, int expert)
    {
        _mode = mode;
        _outputs = checked((int)weights.Size(1));
        _inputs = checked((int)weights.Size(2));
        int count = _outputs * _inputs;
        _weights = new float[count];
        int first = expert * count;
        switch (mode)
        {
            case MoeQuantMode.None:
                ReadOnlySpan<BFloat16> bf16 = weights.AsSpan<BFloat16>().Slice(first, count);
                for (int i = 0; i < count; i++)
                {
                    _weights[i] = bf16[i].ToFloat();
                }
                break;
            case MoeQuantMode.Int8:
                ReadOnlySpan<sbyte> int8 = weights.AsSpan<sbyte>().Slice(first, count);
                for (int i = 0; i < count; i++)
                {
                    _weights[i] = int8[i];
                }
                break;
            default:
                ReadOnlySpan<byte> fp8 = weights.AsSpan<byte>().Slice(first, count);
                for (int i = 0; i < count; i++)
                {
                    _weights[i] = s_fp8Values[fp8[i]];
                }
                break;
        }
        int scaleCount = mode switch
        {
            MoeQuantMode.Int8 => _outputs,
            MoeQuantMode.Fp8 => _outputs / Block * (_inputs / Block),
            _ => 0,
        };
        _weightScales = scales is null ? [] : scales.AsSpan<float>().Slice(expert * scaleCount, scaleCount).ToArray();
        _activation = new float[_inputs];
        _activationScales = new float[_inputs / Block];
        _int8Row = mode == MoeQuantMode.Int8 ? new sbyte[_inputs] : [];
        _fp8Row = mode == MoeQuantMode.Fp8 ? new Float8E4M3[_inputs] : [];
    }

    // y[o] = Σ_k W[o, k] · a[k] for one activation row of K BF16 values; y holds O floats.
    public void Apply(ReadOnlySpan<BFloat16> a, Span<float> y)
    {
        switch (_mode)
        {
            case MoeQuantMode.None:
                for (int k = 0; k < _inputs; k++)
                {
                    _activation[k] = a[k].ToFloat();
                }
                for (int o = 0; o < _outputs; o++)
                {
                    y[o] = Dot(WeightRow(o), _activation);
                }
                break;
            case MoeQuantMode.Int8:
                float activationScale = Int8Cast.CastRow(a, _int8Row);
                for (int k = 0; k < _inputs; k++)
                {
                    _activation[k] = _int8Row[k];
                }
                for (int o = 0; o < _outputs; o++)
                {
                    ReadOnlySpan<float> row = WeightRow(o);
                    int sum = 0;
                    for (int k = 0; k < _inputs; k += Block)
                    {
                        sum += (int)Dot(row.Slice(k, Block), _activation.AsSpan(k, Block));
                    }
                    y[o] = sum * activationScale * _weightScales[o];
                }
                break;
            default:
                Fp8Cast.CastRow(a, _fp8Row, _activationScales, roundScale: false);
                for (int k = 0; k < _inputs; k++)
                {
                    _activation[k] = s_fp8Values[_fp8Row[k].Bits];
                }
                int blocksPerRow = _inputs / Block;
                for (int o = 0; o < _outputs; o++)
                {
                    ReadOnlySpan<float> row = WeightRow(o);
                    ReadOnlySpan<float> blockScales = _weightScales.AsSpan(o / Block * blocksPerRow, blocksPerRow);
                    float sum = 0;
                    for (int b = 0; b < blocksPerRow; b++)
                    {
                        sum += Dot(row.Slice(b * Block, Block), _activation.AsSpan(b * Block, Block)) * (_activationScales[b] * blockScales[b]);
                    }
                    y[o] = sum;
                }
                break;
        }
    }

    private ReadOnlySpan<float> WeightRow(int output) => _weights.AsSpan(output * _inputs, _inputs);

    // Float32 dot product over SIMD lanes (K is a multiple of 128, so a whole number of vectors).
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ReadOnlySpan<Vector<float>> va = MemoryMarshal.Cast<float, Vector<float>>(a);
        ReadOnlySpan<Vector<float>> vb = MemoryMarshal.Cast<float, Vector<float>>(b);
        Vector<float> acc = Vector<float>.Zero;
        for (int i = 0; i < va.Length; i++)
        {
            acc += va[i] * vb[i];
        }
        float sum = Vector.Sum(acc);
        for (int i = va.Length * Vector<float>.Count; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
