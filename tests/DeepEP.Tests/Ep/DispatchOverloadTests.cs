using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Ep;

/// <summary>
/// The four Dispatch overloads (BF16 or FP8 x; a layout or a handle) on two host ranks as threads: the BF16 overloads
/// are the FP8 ones with null scales, byte for byte, and a cached dispatch returns the rows the layout dispatch did;
/// a handle's combine input buffer combines like any other x, and an expanded or disposed handle is refused by name.
/// </summary>
public sealed class DispatchOverloadTests
{
    private const int Ranks = 2;
    private const int Tokens = 6;
    private const int Hidden = 256;
    private const int Experts = 8;
    private const int Topk = 2;

    [Fact]
    public void Bf16OverloadsMatchTheScaledOnesWithNullScales()
    {
        Dictionary<string, byte[]>[] perRank = RankThreads.RunInProcess(Ranks, group =>
        {
            using var buffer = new EpBuffer(group, HostBuffers.NvlBytes, options: new EpBufferOptions { Backend = EpBackendKind.Host });
            using Inputs inputs = new(group.Rank);
            using DispatchLayout layout = buffer.GetDispatchLayout(inputs.TopkIdx, Experts);
            using DispatchResult plain = buffer.Dispatch(inputs.X, layout, inputs.TopkIdx, inputs.TopkWeights, expertAlignment: 4);
            using DispatchResult scaled = buffer.Dispatch(inputs.X, null, layout, inputs.TopkIdx, inputs.TopkWeights, expertAlignment: 4);
            using DispatchHandle handle = plain.Handle!;
            using DispatchHandle scaledHandle = scaled.Handle!;
            using DispatchResult cached = buffer.Dispatch(inputs.X, handle);
            using DispatchResult cachedScaled = buffer.Dispatch(inputs.X, null, handle);
            Assert.Equal(plain.NumRecvTokensPerExpertList, scaled.NumRecvTokensPerExpertList);
            Assert.Null(cached.Handle);
            Assert.Empty(cached.NumRecvTokensPerExpertList);
            return new Dictionary<string, byte[]>
            {
                ["plain.RecvX"] = Bytes(plain.RecvX),
                ["scaled.RecvX"] = Bytes(scaled.RecvX),
                ["plain.RecvTopkIdx"] = Bytes(plain.RecvTopkIdx!),
                ["scaled.RecvTopkIdx"] = Bytes(scaled.RecvTopkIdx!),
                ["plain.RecvTopkWeights"] = Bytes(plain.RecvTopkWeights!),
                ["scaled.RecvTopkWeights"] = Bytes(scaled.RecvTopkWeights!),
                ["plain.RecvSrcIdx"] = Bytes(handle.RecvSrcIdx),
                ["scaled.RecvSrcIdx"] = Bytes(scaledHandle.RecvSrcIdx),
                ["cached.RecvX"] = Bytes(cached.RecvX),
                ["cachedScaled.RecvX"] = Bytes(cachedScaled.RecvX),
            };
        });
        foreach (Dictionary<string, byte[]> rank in perRank)
        {
            Assert.NotEmpty(rank["plain.RecvX"]);
            Assert.Equal(rank["plain.RecvX"], rank["scaled.RecvX"]);
            Assert.Equal(rank["plain.RecvTopkIdx"], rank["scaled.RecvTopkIdx"]);
            Assert.Equal(rank["plain.RecvTopkWeights"], rank["scaled.RecvTopkWeights"]);
            Assert.Equal(rank["plain.RecvSrcIdx"], rank["scaled.RecvSrcIdx"]);
            Assert.Equal(rank["plain.RecvX"], rank["cached.RecvX"]);
            Assert.Equal(rank["plain.RecvX"], rank["cachedScaled.RecvX"]);
        }
    }

    [Fact]
    public void Fp8CachedDispatchReturnsTheLayoutDispatchsRowsAndScales()
    {
        (byte[] Rows, byte[] Scales, byte[] CachedRows, byte[] CachedScales)[] perRank = RankThreads.RunInProcess(Ranks, group =>
        {
            using var buffer = new EpBuffer(group, HostBuffers.NvlBytes, options: new EpBufferOptions { Backend = EpBackendKind.Host });
            using Inputs inputs = new(group.Rank);
            using Fp8Tensor fp8 = Fp8Cast.PerTokenCast(inputs.X);
            using DispatchLayout layout = buffer.GetDispatchLayout(inputs.TopkIdx, Experts);
            using DispatchResult fresh = buffer.Dispatch(fp8.Data, fp8.Scales, layout, inputs.TopkIdx, inputs.TopkWeights);
            using DispatchHandle handle = fresh.Handle!;
            using DispatchResult cached = buffer.Dispatch(fp8.Data, fp8.Scales, handle);
            return (Bytes(fresh.RecvX), Bytes(fresh.RecvXScales!), Bytes(cached.RecvX), Bytes(cached.RecvXScales!));
        });
        foreach ((byte[] rows, byte[] scales, byte[] cachedRows, byte[] cachedScales) in perRank)
        {
            Assert.NotEmpty(rows);
            Assert.Equal(rows, cachedRows);
            Assert.Equal(scales, cachedScales);
        }
    }

    [Fact]
    public void CombineInputBufferCombinesLikeAnyOtherXAndRefusesBadArguments()
    {
        (byte[] Direct, byte[] FromBuffer)[] perRank = RankThreads.RunInProcess(Ranks, group =>
        {
            using var buffer = new EpBuffer(group, HostBuffers.NvlBytes, options: new EpBufferOptions { Backend = EpBackendKind.Host });
            using Inputs inputs = new(group.Rank);
            using DispatchLayout layout = buffer.GetDispatchLayout(inputs.TopkIdx, Experts);
            using DispatchResult dispatched = buffer.Dispatch(inputs.X, layout, inputs.TopkIdx, inputs.TopkWeights);
            using DispatchHandle handle = dispatched.Handle!;
            using DeviceTensor input = buffer.GetCombineInputBuffer(handle, Hidden);
            Assert.Equal(DType.BFloat16, input.DType);
            Assert.Equal([handle.NumRecvTokens, Hidden], input.Shape.ToArray());
            input.CopyFrom<byte>(Bytes(dispatched.RecvX));
            using CombineResult direct = buffer.Combine(dispatched.RecvX, handle, dispatched.RecvTopkWeights);
            using CombineResult fromBuffer = buffer.Combine(input, handle, dispatched.RecvTopkWeights);
            Assert.Equal("hidden", Assert.Throws<ArgumentException>(() => buffer.GetCombineInputBuffer(handle, 12)).ParamName);
            using (DispatchResult expanded = buffer.Dispatch(inputs.X, layout, inputs.TopkIdx, inputs.TopkWeights, doExpand: true))
            using (DispatchHandle expandedHandle = expanded.Handle!)
            {
                Assert.Equal("handle", Assert.Throws<ArgumentException>(() => buffer.GetCombineInputBuffer(expandedHandle, Hidden)).ParamName);
            }
            using DispatchResult later = buffer.Dispatch(inputs.X, layout, inputs.TopkIdx, inputs.TopkWeights);
            DispatchHandle gone = later.Handle!;
            gone.Dispose();
            Assert.Throws<ObjectDisposedException>(() => buffer.GetCombineInputBuffer(gone, Hidden));
            return (Bytes(direct.CombinedX), Bytes(fromBuffer.CombinedX));
        });
        foreach ((byte[] direct, byte[] fromBuffer) in perRank)
        {
            Assert.NotEmpty(direct);
            Assert.Equal(direct, fromBuffer);
        }
    }

    private static byte[] Bytes(DeviceTensor tensor) => tensor.AsSpan<byte>().ToArray();

    /// <summary>One rank's random BF16 rows and a routing of distinct experts per token.</summary>
    private sealed class Inputs : IDisposable
    {
        public Inputs(int rank)
        {
            var random = new Random(1234 + rank);
            var values = new BFloat16[Tokens * Hidden];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BFloat16.FromFloat((float)(random.NextDouble() - 0.5));
            }
            var ids = new long[Tokens * Topk];
            var weights = new float[Tokens * Topk];
            for (int t = 0; t < Tokens; t++)
            {
                int first = random.Next(Experts);
                ids[t * Topk] = first;
                ids[(t * Topk) + 1] = t % 3 == 0 ? -1 : (first + 1 + random.Next(Experts - 1)) % Experts;
                weights[t * Topk] = (float)random.NextDouble();
                weights[(t * Topk) + 1] = (float)random.NextDouble();
            }
            X = DeviceTensor.FromArray<BFloat16>(values, [Tokens, Hidden]);
            TopkIdx = DeviceTensor.FromArray<long>(ids, [Tokens, Topk]);
            TopkWeights = DeviceTensor.FromArray<float>(weights, [Tokens, Topk]);
        }

        public DeviceTensor X { get; }

        public DeviceTensor TopkIdx { get; }

        public DeviceTensor TopkWeights { get; }

        public void Dispose()
        {
            X.Dispose();
            TopkIdx.Dispose();
            TopkWeights.Dispose();
        }
    }
}
