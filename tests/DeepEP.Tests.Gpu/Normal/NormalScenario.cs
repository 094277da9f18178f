using DeepEP.Ep;
using DeepEP.Tensors;
using static DeepEP.Tests.Gpu.Normal.NormalScenarioSetUp;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// Everything normal mode does to one rank's inputs — layout, BF16, FP8 and INT8 dispatch, cached dispatch, worst-case
/// dispatch, combine with bias and weights — recorded as named byte snapshots so two backends can be compared exactly.
/// </summary>
internal static class NormalScenario
{
    public static Dictionary<string, byte[]> Run(EpBuffer buffer, NormalRun run)
    {
        (NormalCase c, int expertAlignment, _, bool asyncFinish) = run;
        using var setUp = new NormalScenarioSetUp(buffer, run);
        var snapshot = new Dictionary<string, byte[]>();
        using DeviceTensor bias = setUp.Inputs.BiasOn(setUp.Device);

        using DispatchLayout layout = buffer.GetDispatchLayout(setUp.Topk, c.Experts, asyncFinish: asyncFinish);
        Wait(layout.Event);
        snapshot["layout.numTokensPerRank"] = Bytes(layout.NumTokensPerRank);
        snapshot["layout.numTokensPerExpert"] = Bytes(layout.NumTokensPerExpert);
        snapshot["layout.isTokenInRank"] = Bytes(layout.IsTokenInRank);

        using DispatchResult bf16 = buffer.Dispatch(setUp.X, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, expertAlignment: expertAlignment,
            config: setUp.Config, asyncFinish: asyncFinish);
        Wait(bf16.Event);
        using DispatchHandle handle = bf16.Handle!;
        snapshot["dispatch.recvX"] = Bytes(bf16.RecvX);
        snapshot["dispatch.recvTopkIdx"] = Bytes(bf16.RecvTopkIdx!);
        snapshot["dispatch.recvTopkWeights"] = Bytes(bf16.RecvTopkWeights!);
        snapshot["dispatch.perExpert"] = bf16.NumRecvTokensPerExpertList.SelectMany(BitConverter.GetBytes).ToArray();
        snapshot["handle.rankPrefixMatrix"] = Bytes(handle.RankPrefixMatrix);
        snapshot["handle.channelPrefixMatrix"] = Bytes(handle.ChannelPrefixMatrix);
        snapshot["handle.recvChannelPrefixMatrix"] = Bytes(handle.RecvChannelPrefixMatrix);
        snapshot["handle.recvSrcIdx"] = Bytes(handle.RecvSrcIdx);
        snapshot["handle.sendHead"] = Bytes(handle.SendHead);

        // Each further result is disposed once recorded: with one process per GPU results hold slots of the receive
        // arena (three in all), and bf16's stays held for the combine below.
        using (DispatchResult cached = buffer.Dispatch(setUp.X, handle, config: setUp.Config))
        {
            snapshot["cached.recvX"] = Bytes(cached.RecvX);
        }

        using Fp8Tensor fp8 = CastWithColumnMajorScales(setUp.Inputs, setUp.Device);
        using (DispatchResult fp8Result = buffer.Dispatch(fp8.Data, fp8.Scales, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, config: setUp.Config))
        {
            snapshot["fp8.recvX"] = Bytes(fp8Result.RecvX);
            snapshot["fp8.recvXScales"] = Bytes(fp8Result.RecvXScales!);
        }
        if (c.Hidden % 512 == 0)
        {
            // The other scale format: UE8M0 exponents packed four to an Int32, row-major.
            using DeviceTensor hostX = setUp.Inputs.XOn(DeviceTensor.HostDevice);
            using Fp8Tensor ue8m0 = Fp8Cast.PerTokenCast(hostX, roundScale: true, useUe8m0: true);
            using DeviceTensor data = ue8m0.Data.To(setUp.Device);
            using DeviceTensor scales = ue8m0.Scales.To(setUp.Device);
            using DispatchResult packed = buffer.Dispatch(data, scales, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, config: setUp.Config);
            snapshot["ue8m0.recvX"] = Bytes(packed.RecvX);
            snapshot["ue8m0.recvXScales"] = Bytes(packed.RecvXScales!);
        }

        if (c.Hidden % 16 == 0)
        {
            // INT8 rows with one Float32 scale per token ([T, 1]), first and cached: the same byte-moving path as FP8.
            using DeviceTensor hostX = setUp.Inputs.XOn(DeviceTensor.HostDevice);
            (DeviceTensor hostData, DeviceTensor hostScales) = Int8Cast.PerTokenCast(hostX);
            using (hostData)
            using (hostScales)
            {
                using DeviceTensor data = hostData.To(setUp.Device);
                using DeviceTensor scales = hostScales.To(setUp.Device);
                DispatchResult int8 = buffer.Dispatch(data, scales, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, config: setUp.Config);
                using DispatchHandle int8Handle = int8.Handle!;
                snapshot["int8.recvX"] = Bytes(int8.RecvX);
                snapshot["int8.recvXScales"] = Bytes(int8.RecvXScales!);
                int8.Dispose();
                using (DispatchResult int8Cached = buffer.Dispatch(data, scales, int8Handle, config: setUp.Config))
                {
                    snapshot["int8.cachedRecvX"] = Bytes(int8Cached.RecvX);
                    snapshot["int8.cachedRecvXScales"] = Bytes(int8Cached.RecvXScales!);
                }

                // Quantised inside dispatch (DEEP_NORMAL_MODE_USE_INT8_QUANT), on the backend's stream: the bytes of the
                // host cast's dispatch above, first and cached; prefix sums asked per call (MOE_EXPERT_TOKEN_NUMS_TYPE=0).
                using (DispatchResult quantized = buffer.Dispatch(setUp.X, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, config: setUp.Config, useInt8Quant: true,
                    expertTokenNumsType: ExpertTokenNumsType.PrefixSums))
                {
                    Assert.Equal(snapshot["int8.recvX"], Bytes(quantized.RecvX));
                    Assert.Equal(snapshot["int8.recvXScales"], Bytes(quantized.RecvXScales!));
                    int running = 0;
                    Assert.Equal(int8.NumRecvTokensPerExpertList.Select(n => running += n), quantized.NumRecvTokensPerExpertList);
                    quantized.Handle!.Dispose();
                }
                using DispatchResult quantizedCached = buffer.Dispatch(setUp.X, int8Handle, config: setUp.Config, useInt8Quant: true);
                Assert.Equal(snapshot["int8.cachedRecvX"], Bytes(quantizedCached.RecvX));
                Assert.Equal(snapshot["int8.cachedRecvXScales"], Bytes(quantizedCached.RecvXScales!));
            }
        }

        long real = bf16.RecvX.Size(0);
        int worstRows = (c.Tokens * buffer.GroupSize) + 1;
        using (DispatchResult worst = buffer.Dispatch(setUp.X, layout, topkIdx: setUp.Topk, topkWeights: setUp.Weights, numWorstTokens: worstRows, config: setUp.Config))
        {
            snapshot["worst.leadingRecvX"] = Bytes(worst.RecvX.Slice(0, real));
            snapshot["worst.recvTopkIdx"] = Bytes(worst.RecvTopkIdx!);
            Assert.Empty(worst.NumRecvTokensPerExpertList);
        }

        using CombineResult combined = buffer.Combine(bf16.RecvX, handle, topkWeights: bf16.RecvTopkWeights, bias: [bias, bias], config: setUp.Config,
            asyncFinish: asyncFinish);
        Wait(combined.Event);
        snapshot["combine.x"] = Bytes(combined.CombinedX);
        snapshot["combine.topkWeights"] = Bytes(combined.CombinedTopkWeights!);
        snapshot["combine.sendHeadAfter"] = Bytes(handle.SendHead);
        return snapshot;
    }

    private static Fp8Tensor CastWithColumnMajorScales(RankInputs inputs, int device)
    {
        using DeviceTensor hostX = inputs.XOn(DeviceTensor.HostDevice);
        using Fp8Tensor cast = Fp8Cast.PerTokenCast(hostX);
        DeviceTensor scales = DeviceTensor.EmptyStrided(DType.Float32, [inputs.Case.Tokens, cast.Scales.Size(1)], [1, inputs.Case.Tokens], device);
        scales.Transpose(0, 1).CopyFrom<float>(cast.Scales.Transpose(0, 1).ToArray<float>());
        return new Fp8Tensor(cast.Data.To(device), scales);
    }
}
