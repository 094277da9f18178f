using CsCheck;
using DeepEP.Backends;
using DeepEP.Backends.Host;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Backends.Host.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Backends.Host;

/// <summary>Normal-mode FP8 dispatch (spec §2.1–2.2): payload and scales arrive bit for bit, scales row-major.</summary>
public sealed class Fp8DispatchTests
{
    [Fact]
    public void Fp8RowsAndScalesArriveBitForBitInRowMajorOrder()
    {
        Check.Sample(RoutingCase.Generator([1, 2, 4, 8], [128, 512, 7168]), c =>
        {
            RankData[] ranks = c.Build();
            bool useUe8m0 = (c.Seed & 1) != 0 && c.Hidden % 512 == 0;
            bool columnMajorScales = (c.Seed & 2) != 0;
            (byte[] Data, int[] Scales, DispatchResult Result)[] outputs = RankThreads.RunInProcess(c.NumRanks, group =>
            {
                using var backend = new HostBackend(group);
                RankData me = ranks[group.Rank];
                Fp8Tensor fp8 = Fp8Cast.PerTokenCast(HostTensors.From(me.X, me.NumTokens, c.Hidden), roundScale: useUe8m0, useUe8m0: useUe8m0);
                DeviceTensor scales = columnMajorScales ? HostTensors.ColumnMajor(fp8.Scales) : fp8.Scales;
                DeviceTensor topkIdx = HostTensors.From(me.TopkIdx);
                DispatchLayout layout = backend.GetDispatchLayout(topkIdx, c.NumExperts, StreamOptions.Default);
                DispatchResult result = backend.Dispatch(HostRequests.Dispatch(
                    fp8.Data, scales, layout, topkIdx, HostTensors.From(me.TopkWeights), c.NumExperts, c.NumChannels));
                return (fp8.Data.ToArray<byte>(), scales.ToArray<int>(), result);
            });
            int numScales = c.Hidden / 128 / (useUe8m0 ? 4 : 1);
            for (int r = 0; r < c.NumRanks; r++)
            {
                DispatchResult result = outputs[r].Result;
                Assert.Equal(DType.Float8E4M3, result.RecvX.DType);
                Assert.Equal(useUe8m0 ? DType.Int32 : DType.Float32, result.RecvXScales!.DType);
                Assert.True(result.RecvXScales.IsContiguous);
                List<(int Source, int Token)> expectedRows = RoutingOracle.ReceivedTokens(ranks, c.NumExperts, r);
                Assert.Equal([expectedRows.Count, numScales], result.RecvXScales.Shape.ToArray());
                byte[] recvData = result.RecvX.ToArray<byte>();
                int[] recvScales = result.RecvXScales.ToArray<int>();
                for (int row = 0; row < expectedRows.Count; row++)
                {
                    (int s, int t) = expectedRows[row];
                    Assert.Equal(outputs[s].Data.AsSpan(t * c.Hidden, c.Hidden), recvData.AsSpan(row * c.Hidden, c.Hidden));
                    Assert.Equal(outputs[s].Scales.AsSpan(t * numScales, numScales), recvScales.AsSpan(row * numScales, numScales));
                }
            }
        }, iter: 60);
    }
}
