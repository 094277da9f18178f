using CsCheck;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>
/// INT8 normal-mode dispatch through <see cref="EpBuffer"/> on the host backend: INT8 rows and their Float32 per-token
/// scales arrive bit for bit in the reference row order, in the first and in a cached dispatch.
/// </summary>
public sealed class Int8DispatchTests
{
    [Fact]
    public void Int8RowsAndPerTokenScalesArriveBitForBitAlsoWhenCached()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4], [128, 512, 7168]), c =>
        {
            RankData[] ranks = c.Build();
            ProcessGroup[] groups = ProcessGroup.CreateInProcess(c.NumRanks);
            var options = new EpBufferOptions { Backend = EpBackendKind.Host };
            (sbyte[] Data, float[] Scales, sbyte[] Recv, float[] RecvScales, sbyte[] Cached, float[] CachedScales)[] outputs = RankThreads.RunAll(groups, group =>
            {
                using var buffer = new EpBuffer(group, 1L << 26, options: options);
                RankData me = ranks[group.Rank];
                (DeviceTensor data, DeviceTensor scales) = Int8Cast.PerTokenCast(HostTensors.From(me.X, me.NumTokens, c.Hidden));
                DeviceTensor topkIdx = HostTensors.From(me.TopkIdx);
                DispatchLayout layout = buffer.GetDispatchLayout(topkIdx, c.NumExperts);
                var config = new EpConfig(numSms: 2 * c.NumChannels);
                DispatchResult first = buffer.Dispatch(data, scales, layout, topkIdx: topkIdx, topkWeights: HostTensors.From(me.TopkWeights), config: config);
                Assert.Equal(DType.Int8, first.RecvX.DType);
                Assert.Equal(DType.Float32, first.RecvXScales!.DType);
                DispatchResult cached = buffer.Dispatch(data, scales, first.Handle!, config: config);
                return (data.ToArray<sbyte>(), scales.ToArray<float>(), first.RecvX.ToArray<sbyte>(), first.RecvXScales.ToArray<float>(),
                    cached.RecvX.ToArray<sbyte>(), cached.RecvXScales!.ToArray<float>());
            });
            for (int r = 0; r < c.NumRanks; r++)
            {
                List<(int Source, int Token)> expectedRows = RoutingOracle.ReceivedTokens(ranks, c.NumExperts, r);
                Assert.Equal(expectedRows.Count * c.Hidden, outputs[r].Recv.Length);
                for (int row = 0; row < expectedRows.Count; row++)
                {
                    (int s, int t) = expectedRows[row];
                    Assert.Equal(outputs[s].Data.AsSpan(t * c.Hidden, c.Hidden), outputs[r].Recv.AsSpan(row * c.Hidden, c.Hidden));
                    Assert.Equal(outputs[s].Scales[t], outputs[r].RecvScales[row]);
                }
                Assert.Equal(outputs[r].Recv, outputs[r].Cached);
                Assert.Equal(outputs[r].RecvScales, outputs[r].CachedScales);
            }
        }, iter: 30);
    }
}
