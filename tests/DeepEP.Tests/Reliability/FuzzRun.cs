using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// Runs one <see cref="FuzzCall"/> on a fresh one-rank host buffer. The fuzzed call must either throw a documented
/// <see cref="ArgumentException"/> or <see cref="ObjectDisposedException"/> before any collective, or return what the
/// spec's reference arithmetic gives for its inputs; anything else fails the property.
/// </summary>
internal sealed class FuzzRun : IDisposable
{
    private const int MaxTokens = 8;
    private const int MaxHidden = 384;
    private const int MaxExperts = 8;

    private readonly FuzzCall _c;
    private readonly FaultyGroup _group;
    private readonly EpBuffer _buffer;
    private readonly Random _random;

    public FuzzRun(FuzzCall call)
    {
        _c = call;
        _random = new Random(call.Seed);
        _group = new FaultyGroup(ProcessGroup.CreateInProcess(1)[0]);
        _buffer = new EpBuffer(_group, 1L << 22, EpBuffer.GetLowLatencyRdmaSizeHint(MaxTokens, MaxHidden, 1, MaxExperts), lowLatencyMode: true,
            new EpBufferOptions { Backend = EpBackendKind.Host, EnableShrink = true, Timeout = TimeSpan.FromSeconds(10) });
    }

    public void Dispose()
    {
        _buffer.Dispose();
        _group.Dispose();
    }

    public void Run()
    {
        using DeviceTensor x = Tensor(_c.XType, _c.Tokens, _c.Hidden);
        using DeviceTensor topk = DeviceTensor.FromArray<long>(_c.Ids, [_c.Tokens, _c.Topk]);
        using DeviceTensor weights = Tensor(DType.Float32, _c.Tokens, _c.Topk);
        DisposeIf(1, x);
        DisposeIf(2, topk);
        DisposeIf(3, weights);
        switch (_c.Operation)
        {
            case FuzzOperation.Layout:
                using (DispatchLayout? layout = Fuzzed(() => _buffer.GetDispatchLayout(topk, _c.Experts)))
                {
                    if (layout is not null)
                    {
                        Assert.Equal(ExpertCounts(), layout.NumTokensPerExpert.ToArray<int>());
                        Assert.Equal(InRank(), layout.IsTokenInRank.ToArray<bool>());
                        Assert.Equal([InRank().Count(b => b)], layout.NumTokensPerRank.ToArray<int>());
                    }
                }
                break;
            case FuzzOperation.Dispatch:
                Dispatch(x, topk, weights);
                break;
            case FuzzOperation.CachedDispatch or FuzzOperation.Combine:
                DispatchThen(x);
                break;
            case FuzzOperation.Clean:
                Fuzzed(() =>
                {
                    _buffer.CleanLowLatencyBuffer(_c.MaxTokens, _c.Hidden, _c.Experts);
                    return "cleaned";
                });
                break;
            case FuzzOperation.LowLatency or FuzzOperation.NextCombineBuffer:
                LowLatency(x, topk, weights);
                break;
            default:
                Mask();
                break;
        }
    }

    private void Dispatch(DeviceTensor x, DeviceTensor topk, DeviceTensor weights)
    {
        int[] perExpert = ExpertCounts();
        if (perExpert.Length > 0)
        {
            perExpert[0] += _c.CountOffset;
        }
        bool[] inRank = InRank();
        using DeviceTensor perRank = DeviceTensor.FromArray<int>([inRank.Count(b => b) + Math.Sign(_c.CountOffset)], [1]);
        using DeviceTensor isTokenInRank = DeviceTensor.FromArray<bool>(inRank, [inRank.Length, 1]);
        using DeviceTensor perExpertTensor = DeviceTensor.FromArray<int>(perExpert, [perExpert.Length]);
        using DispatchResult? received = Fuzzed(() => _buffer.Dispatch(x, new DispatchLayout(perRank, null, perExpertTensor, isTokenInRank, EventOverlap.None),
            topk, weights));
        if (received is null)
        {
            return;
        }
        using DispatchHandle handle = received.Handle!;
        // One rank: the received rows are the tokens with a valid expert, in order, with their top-k row.
        int[] rows = [.. Enumerable.Range(0, _c.Tokens).Where(t => inRank[t])];
        Assert.Equal(Rows(x.ToArray<ushort>(), rows, _c.Hidden), received.RecvX.ToArray<ushort>());
        Assert.Equal(Rows(_c.Ids, rows, _c.Topk), received.RecvTopkIdx!.ToArray<long>());
        Assert.Equal(perExpert, received.NumRecvTokensPerExpertList);
    }

    private void DispatchThen(DeviceTensor x)
    {
        // A valid dispatch of valid routing first; the fuzzed call is the cached dispatch or combine that follows.
        int tokens = 4;
        int hidden = 128;
        long[] ids = [0, -1, -1, -1, 0, 0, -1, 0];
        using DeviceTensor topk = DeviceTensor.FromArray<long>(ids, [tokens, 2]);
        using DeviceTensor weights = Tensor(DType.Float32, tokens, 2);
        using DeviceTensor first = Tensor(DType.BFloat16, tokens, hidden);
        using DispatchLayout layout = _buffer.GetDispatchLayout(topk, 1);
        using DispatchResult received = _buffer.Dispatch(first, layout, topkIdx: topk, topkWeights: weights);
        DispatchHandle handle = received.Handle!;
        DisposeIf(4, handle);
        int[] rows = [0, 2, 3];
        if (_c.Operation == FuzzOperation.CachedDispatch)
        {
            using DispatchResult? cached = Fuzzed(() => _buffer.Dispatch(x, handle));
            if (cached is not null)
            {
                Assert.Equal(Rows(x.ToArray<ushort>(), rows, _c.Hidden), cached.RecvX.ToArray<ushort>());
            }
        }
        else
        {
            using CombineResult? combined = Fuzzed(() => _buffer.Combine(x, handle));
            if (combined is not null)
            {
                // Each received row returns once to its token; the token that went nowhere combines to zero.
                ushort[] rowsBack = x.ToArray<ushort>();
                ushort[] expected = new ushort[tokens * _c.Hidden];
                for (int i = 0; i < rows.Length; i++)
                {
                    Array.Copy(rowsBack, i * _c.Hidden, expected, rows[i] * _c.Hidden, _c.Hidden);
                }
                Assert.Equal(expected, combined.CombinedX.ToArray<ushort>());
            }
        }
        handle.Dispose();
    }

    private void LowLatency(DeviceTensor x, DeviceTensor topk, DeviceTensor weights)
    {
        using LowLatencyDispatchResult? dispatched = Fuzzed(() => _buffer.LowLatencyDispatch(x, topk, _c.MaxTokens, _c.Experts, useFp8: false));
        if (dispatched is null)
        {
            return;
        }
        using LowLatencyHandle handle = dispatched.Handle;
        Assert.Equal(ExpertCounts(), dispatched.PackedRecvCount.ToArray<int>());
        if (_c.Operation == FuzzOperation.NextCombineBuffer)
        {
            DeviceTensor next = _buffer.GetNextLowLatencyCombineBuffer(handle);
            Assert.Equal([_c.Experts, _c.MaxTokens, _c.Hidden], next.Shape.ToArray());
            return;
        }
        using LowLatencyCombineResult? combined = Fuzzed(() => _buffer.LowLatencyCombine(dispatched.PackedRecvX, topk, weights, handle));
        if (combined is null)
        {
            return;
        }
        // Σ_k w·x over the valid slots with fused multiply-adds in slot order, rounded once (spec §5.4).
        float[] xs = Array.ConvertAll(x.ToArray<BFloat16>(), v => v.ToFloat());
        float[] ws = weights.ToArray<float>();
        var expected = new BFloat16[_c.Tokens * _c.Hidden];
        for (int t = 0; t < _c.Tokens; t++)
        {
            for (int h = 0; h < _c.Hidden; h++)
            {
                float acc = 0;
                for (int k = 0; k < _c.Topk; k++)
                {
                    acc = _c.Ids[(t * _c.Topk) + k] >= 0 ? MathF.FusedMultiplyAdd(xs[(t * _c.Hidden) + h], ws[(t * _c.Topk) + k], acc) : acc;
                }
                expected[(t * _c.Hidden) + h] = BFloat16.FromFloat(acc);
            }
        }
        Assert.Equal(Array.ConvertAll(expected, v => v.ToFloat()), Array.ConvertAll(combined.CombinedX.ToArray<BFloat16>(), v => v.ToFloat()));
    }

    private void Mask()
    {
        using DeviceTensor status = DeviceTensor.Zeros(DType.Int32, [1]);
        if (Fuzzed(() =>
        {
            _buffer.LowLatencyUpdateMaskBuffer(_c.RankArgument, mask: true);
            return "masked";
        }) is null)
        {
            return;
        }
        _buffer.LowLatencyQueryMaskBuffer(status);
        Assert.Equal([1], status.ToArray<int>());
        _buffer.LowLatencyCleanMaskBuffer();
        _buffer.LowLatencyQueryMaskBuffer(status);
        Assert.Equal([0], status.ToArray<int>());
    }

    /// <summary>The fuzzed call: its result, or null after a documented argument error raised before any collective.</summary>
    private T? Fuzzed<T>(Func<T> call)
        where T : class
    {
        int before = _group.Collectives;
        try
        {
            return call();
        }
        catch (Exception e) when (e is ArgumentException or ObjectDisposedException)
        {
            Assert.True(_group.Collectives == before, $"{e.GetType().Name} after a collective: {e.Message}");
            return null;
        }
    }

    private int[] ExpertCounts() =>
        [.. Enumerable.Range(0, Math.Max(_c.Experts, 0)).Select(e => _c.Ids.Count(id => id == e))];

    private bool[] InRank() =>
        [.. Enumerable.Range(0, _c.Tokens).Select(t => _c.Ids.AsSpan(t * _c.Topk, _c.Topk).ToArray().Any(id => id >= 0))];

    private static T[] Rows<T>(T[] values, int[] rows, int width) =>
        [.. rows.SelectMany(r => values.AsSpan(r * width, width).ToArray())];

    private DeviceTensor Tensor(DType dtype, int rows, int columns)
    {
        DeviceTensor t = DeviceTensor.Zeros(dtype, [rows, columns]);
        if (dtype is DType.BFloat16 or DType.Float32)
        {
            for (long r = 0; r < rows; r++)
            {
                for (long c = 0; c < columns; c++)
                {
                    float value = (_random.Next(17) - 8) / 4f;
                    if (dtype == DType.BFloat16)
                    {
                        t.At<BFloat16>(r, c) = BFloat16.FromFloat(value);
                    }
                    else
                    {
                        t.At<float>(r, c) = value;
                    }
                }
            }
        }
        return t;
    }

    private void DisposeIf(int which, IDisposable target)
    {
        if (_c.Disposed == which)
        {
            target.Dispose();
        }
    }
}
