using System.Runtime.InteropServices;
using CsCheck;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Ep;

/// <summary>
/// V2's expanded layout (<c>doExpand</c>) end to end on the host backend, against a reference computed here from the
/// received rows: segments in received-row order, padding, prefix sums, both row maps, a cached dispatch, and a combine
/// of expanded rows equal bit for bit to the plain combine of the same expert outputs.
/// </summary>
public sealed class ExpandedLayoutTests
{
    [Fact]
    public void ExpandedDispatchAndCombineMatchTheReference() => Check.Sample(Gen.Int[0, int.MaxValue], seed => Run(ExpandCase.From(seed)), iter: 24);

    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(4, 8, true)]
    public void WorstCaseRowsWithoutHostSync(int alignment, int ranks, bool zeroPadding) =>
        Run(new ExpandCase(17, ranks, LocalExperts: 3, Topk: 2, [.. Enumerable.Range(0, ranks).Select(r => 3 + r)], Hidden: 128, alignment, zeroPadding, Fp8: false, Worst: true));

    [Fact]
    public void ZeroPaddingNeedsDoExpand()
    {
        EpBuffer buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        var e = HostBuffers.Throws<ArgumentException>("doZeroPadding",
            () => buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, doZeroPadding: true));
        Assert.Contains("doExpand: true", e.Message);
    }

    [Fact]
    public void DoExpandNeedsTopk()
    {
        EpBuffer buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        HostBuffers.Throws<ArgumentException>("doExpand", () => buffer.Dispatch(x, routing.Layout, doExpand: true));
    }

    [Fact]
    public void WorstCaseRowsMustFitInt32()
    {
        EpBuffer buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        HostBuffers.Throws<ArgumentException>("numWorstTokens",
            () => buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, numWorstTokens: int.MaxValue, doExpand: true));
    }

    [Fact]
    public void CombineOfAnExpandedHandleTakesExpandedRowsAndWeights()
    {
        EpBuffer buffer = HostBuffers.Single();
        using var routing = new DispatchArgumentTests.Routing(buffer);
        using var x = DispatchArgumentTests.Random(4, 128);
        using DispatchResult result = buffer.Dispatch(x, routing.Layout, routing.TopkIdx, routing.TopkWeights, expertAlignment: 4, doExpand: true);
        ExpandedRows expanded = result.Expanded!;
        Assert.NotEqual(result.RecvX.Size(0), expanded.X.Size(0));
        var rows = HostBuffers.Throws<ArgumentException>("x", () => buffer.Combine(result.RecvX, result.Handle!));
        Assert.Contains($"{expanded.X.Size(0)}", rows.Message);
        var weights = HostBuffers.Throws<ArgumentException>("topkWeights", () => buffer.Combine(expanded.X, result.Handle!, topkWeights: result.RecvTopkWeights));
        Assert.Contains("ExpandedRows.TopkWeights", weights.Message);
        using CombineResult combined = buffer.Combine(expanded.X, result.Handle!, topkWeights: expanded.TopkWeights);
        Assert.Equal([4, 128], combined.CombinedX.Shape.ToArray());
    }

    private static void Run(ExpandCase c)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(c.Ranks);
        var options = new EpBufferOptions { Backend = EpBackendKind.Host };
        RankThreads.RunAll(c.Ranks, r =>
        {
            using var buffer = new EpBuffer(groups[r], HostBuffers.NvlBytes, 0, lowLatencyMode: false, options);
            RankRun(buffer, c, r);
            return 0;
        });
    }

    private static void RankRun(EpBuffer buffer, ExpandCase c, int r)
    {
        var random = new Random((c.Seed * 31) + r);
        int tokens = c.Tokens[r], k = c.Topk, hidden = c.Hidden, experts = c.LocalExperts * c.Ranks;
        using DeviceTensor topk = DeviceTensor.FromArray<long>(RandomTopk(random, tokens, k, experts), [tokens, k]);
        using DeviceTensor weights = DeviceTensor.FromArray<float>([.. Enumerable.Range(0, tokens * k).Select(_ => random.NextSingle())], [tokens, k]);
        using DeviceTensor x = c.Fp8 ? RandomBytes(random, DType.Float8E4M3, tokens, hidden) : DispatchArgumentTests.Random(tokens, hidden);
        using DeviceTensor? scales = c.Fp8 ? RandomBytes(random, DType.Float32, tokens, hidden / 128) : null;
        using DispatchLayout layout = buffer.GetDispatchLayout(topk, experts);
        int worst = c.Worst ? c.Tokens.Sum() + 1 : 0;
        using DispatchResult plain = buffer.Dispatch(x, scales, layout, topk, weights, c.Alignment, worst);
        using DispatchResult result = buffer.Dispatch(x, scales, layout, topk, weights, c.Alignment, worst, doExpand: true, doZeroPadding: c.ZeroPadding);
        ExpertExpansion expansion = result.Handle!.Expansion!;
        ExpandedRows expanded = result.Expanded!;
        Assert.Equal(plain.NumRecvTokensPerExpertList, result.NumRecvTokensPerExpertList);

        // The reference: rows selecting expert e, in received-row order, slots in order; segments aligned.
        long[] ids = result.RecvTopkIdx!.ToArray<long>();
        int rows = checked((int)result.RecvX.Size(0));
        int[] counts = [.. Enumerable.Range(0, c.LocalExperts).Select(e => ids.Count(id => id == e))];
        int[] psum = new int[c.LocalExperts];
        for (int e = 0, running = 0; e < c.LocalExperts; e++)
        {
            running += (counts[e] + c.Alignment - 1) / c.Alignment * c.Alignment;
            psum[e] = running;
        }
        long capacity = c.Worst ? ((long)worst * k) + (c.LocalExperts * (c.Alignment - 1)) : psum[^1];
        int[] src = Enumerable.Repeat(-1, checked((int)capacity * 2)).ToArray();
        int[] rowOf = Enumerable.Repeat(-1, ids.Length).ToArray();
        for (int e = 0; e < c.LocalExperts; e++)
        {
            int position = e == 0 ? 0 : psum[e - 1];
            for (int i = 0; i < ids.Length; i++)
            {
                if (ids[i] == e)
                {
                    (src[2 * position], src[(2 * position) + 1], rowOf[i]) = (i / k, i % k, position);
                    position++;
                }
            }
        }
        Assert.Equal(counts, expansion.NumRecvTokensPerExpert.ToArray<int>());
        Assert.Equal(psum, expansion.PsumNumRecvTokensPerExpert.ToArray<int>());
        Assert.Equal(src, expansion.SrcRowSlot.ToArray<int>());
        Assert.Equal(rowOf, expansion.ExpandedRowOf.ToArray<int>());
        Assert.Equal([capacity, hidden], expanded.X.Shape.ToArray());
        float[] recvWeights = result.RecvTopkWeights!.ToArray<float>();
        float[] expandedWeights = expanded.TopkWeights!.ToArray<float>();
        CheckRows(result.RecvX, expanded.X, src, c.ZeroPadding);
        if (scales is not null)
        {
            CheckRows(result.RecvXScales!, expanded.XScales!, src, c.ZeroPadding);
        }
        for (int p = 0; p < capacity; p++)
        {
            Assert.Equal(src[2 * p] < 0 ? 0f : recvWeights[(src[2 * p] * k) + src[(2 * p) + 1]], expandedWeights[p]);
        }

        // A cached dispatch with the expanded handle lays the rows out the same way.
        using (DispatchResult cached = buffer.Dispatch(x, scales, result.Handle!))
        {
            Assert.Null(cached.Expanded!.TopkWeights);
            CheckRows(result.RecvX, cached.Expanded.X, src, c.ZeroPadding);
        }

        // Combine: expert output y[m, k] for each local slot; the plain combine gets their fp32 sum rounded once.
        var y = new float[ids.Length, hidden];
        for (int i = 0; i < ids.Length; i++)
        {
            for (int h = 0; h < hidden; h++)
            {
                y[i, h] = ((BFloat16)((random.NextSingle() * 4) - 2)).ToFloat();
            }
        }
        var reduced = new BFloat16[rows * hidden];
        for (int m = 0; m < rows; m++)
        {
            for (int h = 0; h < hidden; h++)
            {
                float acc = 0f;
                for (int slot = 0; slot < k; slot++)
                {
                    acc += rowOf[(m * k) + slot] >= 0 ? y[(m * k) + slot, h] : 0f;
                }
                reduced[(m * hidden) + h] = (BFloat16)acc;
            }
        }
        var expandedY = new BFloat16[capacity * hidden];
        for (int p = 0; p < capacity; p++)
        {
            for (int h = 0; h < hidden; h++)
            {
                // Padding rows hold garbage the combine must not read.
                expandedY[(p * hidden) + h] = (BFloat16)(src[2 * p] < 0 ? 1e4f : y[(src[2 * p] * k) + src[(2 * p) + 1], h]);
            }
        }
        using DeviceTensor plainIn = DeviceTensor.FromArray<BFloat16>(reduced, [rows, hidden]);
        using DeviceTensor expandedIn = DeviceTensor.FromArray<BFloat16>(expandedY, [capacity, hidden]);
        using CombineResult want = buffer.Combine(plainIn, plain.Handle!, plain.RecvTopkWeights);
        using CombineResult got = buffer.Combine(expandedIn, result.Handle!, expanded.TopkWeights);
        Assert.Equal(want.CombinedX.ToArray<ushort>(), got.CombinedX.ToArray<ushort>());
        Assert.Equal(want.CombinedTopkWeights!.ToArray<uint>(), got.CombinedTopkWeights!.ToArray<uint>());
        plain.Handle!.Dispose();
        result.Handle.Dispose();
    }

    // Expanded row p is received row src[2p] byte for byte; padding rows are zero when asked (else unspecified).
    private static void CheckRows(DeviceTensor received, DeviceTensor expanded, int[] src, bool zeroPadding)
    {
        byte[] from = Bytes(received), to = Bytes(expanded);
        int rowBytes = checked((int)(received.Size(1) * received.DType.ElementSize()));
        for (int p = 0; p < src.Length / 2; p++)
        {
            ReadOnlySpan<byte> row = to.AsSpan(p * rowBytes, rowBytes);
            if (src[2 * p] >= 0)
            {
                Assert.True(row.SequenceEqual(from.AsSpan(src[2 * p] * rowBytes, rowBytes)), $"expanded row {p} is not received row {src[2 * p]}");
            }
            else if (zeroPadding)
            {
                Assert.True(row.IndexOfAnyExcept((byte)0) < 0, $"padding row {p} is not zero");
            }
        }
    }

    private static byte[] Bytes(DeviceTensor t) => t.DType.ElementSize() switch
    {
        1 => t.ToArray<byte>(),
        2 => MemoryMarshal.AsBytes(t.ToArray<ushort>().AsSpan()).ToArray(),
        _ => MemoryMarshal.AsBytes(t.ToArray<uint>().AsSpan()).ToArray(),
    };

    private static DeviceTensor RandomBytes(Random random, DType dtype, int rows, int columns)
    {
        DeviceTensor t = DeviceTensor.Empty(dtype, [rows, columns]);
        var bytes = new byte[t.ByteSize];
        random.NextBytes(bytes);
        t.CopyFrom<byte>(bytes);
        return t;
    }

    // Distinct experts per token, about one slot in five masked.
    private static long[] RandomTopk(Random random, int tokens, int k, int experts)
    {
        var ids = new long[tokens * k];
        for (int t = 0; t < tokens; t++)
        {
            int[] chosen = [.. Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(k)];
            for (int j = 0; j < k; j++)
            {
                ids[(t * k) + j] = random.Next(5) == 0 ? -1 : chosen[j];
            }
        }
        return ids;
    }

    private sealed record ExpandCase(int Seed, int Ranks, int LocalExperts, int Topk, int[] Tokens, int Hidden, int Alignment, bool ZeroPadding, bool Fp8, bool Worst)
    {
        public static ExpandCase From(int seed)
        {
            var random = new Random(seed);
            int ranks = new[] { 1, 2, 3, 4 }[random.Next(4)];
            int local = random.Next(1, 6);
            return new ExpandCase(seed, ranks, local, random.Next(1, Math.Min(ranks * local, 4) + 1), [.. Enumerable.Range(0, ranks).Select(_ => random.Next(0, 13))],
                random.Next(2) == 0 ? 128 : 256, new[] { 1, 2, 4, 8 }[random.Next(4)], random.Next(2) == 0, random.Next(3) == 0, random.Next(3) == 0);
        }
    }
}
