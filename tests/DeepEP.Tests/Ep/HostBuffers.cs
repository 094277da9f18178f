using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Ep;

/// <summary>Host-backend buffers for argument tests: created on every rank's thread, then used from rank 0 only (checks throw before any collective).</summary>
internal static class HostBuffers
{
    public const long NvlBytes = 1L << 26;

    public static EpBuffer[] Create(int ranks, long nvlBytes = NvlBytes, long rdmaBytes = 0, EpBufferOptions? options = null)
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
        options = (options ?? new EpBufferOptions()) with { Backend = EpBackendKind.Host };
        return RankThreads.RunAll(ranks, r => new EpBuffer(groups[r], nvlBytes, rdmaBytes, lowLatencyMode: rdmaBytes > 0, options));
    }

    public static EpBuffer Single(long nvlBytes = NvlBytes, long rdmaBytes = 0, EpBufferOptions? options = null) =>
        Create(1, nvlBytes, rdmaBytes, options)[0];

    public static DeviceTensor Topk(long[] ids, int columns) => DeviceTensor.FromArray<long>(ids, [ids.Length / columns, columns]);

    public static DeviceTensor Zeros(DType dtype, params long[] shape) => DeviceTensor.Zeros(dtype, shape);

    public static T Throws<T>(string paramName, Action action)
        where T : ArgumentException
    {
        T e = Assert.Throws<T>(action);
        Assert.Equal(paramName, e.ParamName);
        return e;
    }
}
