using DeepEP.Backends;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>Backend requests with the defaults the tests do not vary (default streams, C channels = 2C SMs).</summary>
internal static class HostRequests
{
    public static NormalDispatchRequest Dispatch(
        DeviceTensor x, DeviceTensor? scales, DispatchLayout layout, DeviceTensor? topkIdx, DeviceTensor? topkWeights,
        int numExperts, int numChannels, int expertAlignment = 1, int numWorstTokens = 0) =>
        new(x, scales, null, layout.NumTokensPerRank, layout.IsTokenInRank, layout.NumTokensPerExpert, topkIdx, topkWeights,
            numExperts, expertAlignment, numWorstTokens, Config(numChannels), StreamOptions.Default);

    public static NormalDispatchRequest CachedDispatch(DeviceTensor x, DeviceTensor? scales, DispatchHandle handle, int numExperts) =>
        new(x, scales, handle, null, null, null, null, null, numExperts, 1, 0, Config(handle.NumChannels), StreamOptions.Default);

    public static NormalCombineRequest Combine(DeviceTensor x, DispatchHandle handle, DeviceTensor? topkWeights = null, DeviceTensor? bias0 = null, DeviceTensor? bias1 = null) =>
        new(x, handle, topkWeights, bias0, bias1, Config(handle.NumChannels), StreamOptions.Default);

    public static LowLatencyDispatchRequest LowLatencyDispatch(
        DeviceTensor x, DeviceTensor topkIdx, int maxTokensPerRank, int numExperts, DeviceTensor? stats = null,
        bool useFp8 = false, bool roundScale = false, bool useUe8m0 = false, bool returnRecvHook = false) =>
        new(x, topkIdx, maxTokensPerRank, numExperts, stats, null, useFp8, roundScale, useUe8m0, StreamOptions.Default, returnRecvHook);

    public static LowLatencyCombineRequest LowLatencyCombine(
        DeviceTensor x, DeviceTensor topkIdx, DeviceTensor topkWeights, LowLatencyHandle handle,
        bool zeroCopy = false, bool returnRecvHook = false, DeviceTensor? output = null) =>
        new(x, topkIdx, topkWeights, handle, UseLogfmt: false, zeroCopy, StreamOptions.Default, returnRecvHook, output, null);

    public static EpConfig Config(int numChannels) => new(numSms: 2 * numChannels);
}
