using CsCheck;
using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Cached dispatch (spec §2.7): the handle's routing, new data, the same rows as a fresh dispatch.</summary>
public sealed class CachedDispatchTests
{
    [Fact]
    public void CachedDispatchOfNewDataEqualsAFreshDispatch()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 512]), c =>
        {
            RankData[] first = c.Build();
            bool useFp8 = (c.Seed & 1) != 0;
            (DispatchResult Cached, DispatchResult Fresh)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = first[group.Rank];
                DispatchLayout layout = backend.GetDispatchLayout(HostTensors.From(me.TopkIdx), c.NumExperts, StreamOptions.Default);
                (DeviceTensor x1, DeviceTensor? scales1) = Input(me.X, me.NumTokens, c.Hidden, useFp8);
                (DeviceTensor x2, DeviceTensor? scales2) = Input(NewValues(me.X.Length, c.Seed + group.Rank), me.NumTokens, c.Hidden, useFp8);
                DispatchHandle handle = backend.Dispatch(HostRequests.Dispatch(x1, scales1, layout, null, null, c.NumExperts, c.NumChannels)).Handle!;
                DispatchResult cached = backend.Dispatch(HostRequests.CachedDispatch(x2, scales2, handle, c.NumExperts));
                DispatchResult fresh = backend.Dispatch(HostRequests.Dispatch(x2, scales2, layout, null, null, c.NumExperts, c.NumChannels));
                return (cached, fresh);
            });
            foreach ((DispatchResult cached, DispatchResult fresh) in outputs)
            {
                Assert.Null(cached.Handle);
                Assert.Null(cached.RecvTopkIdx);
                Assert.Null(cached.RecvTopkWeights);
                Assert.Empty(cached.NumRecvTokensPerExpertList);
                Assert.Equal(fresh.RecvX.DType, cached.RecvX.DType);
                Assert.Equal(fresh.RecvX.AsSpan<byte>().ToArray(), cached.RecvX.AsSpan<byte>().ToArray());
                Assert.Equal(fresh.RecvXScales?.ToArray<int>(), cached.RecvXScales?.ToArray<int>());
            }
        }, iter: 60);
    }

    private static BFloat16[] NewValues(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => BFloat16.FromFloat((float)(random.NextDouble() - 0.5)))];
    }

    private static (DeviceTensor X, DeviceTensor? Scales) Input(BFloat16[] values, int numTokens, int hidden, bool useFp8)
    {
        DeviceTensor x = HostTensors.From(values, numTokens, hidden);
        if (!useFp8)
        {
            return (x, null);
        }
        Fp8Tensor fp8 = Fp8Cast.PerTokenCast(x);
        return (fp8.Data, HostTensors.ColumnMajor(fp8.Scales));
    }
}
