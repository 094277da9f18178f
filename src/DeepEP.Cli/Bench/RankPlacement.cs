using System.Globalization;

namespace DeepEP.Cli.Bench;

/// <summary>
/// Where bench's ranks run: rank r (ranks as threads) or LOCAL_RANK r (one process per rank) on GPU r % count, as
/// <see cref="Ep.EpBuffer.GetDefaultDevice"/> places them, and what sharing a GPU means for the figures.
/// </summary>
internal static class RankPlacement
{
    /// <summary>Normal-mode SMs per rank when a GPU is not shared (upstream's bench default).</summary>
    public const int DefaultSms = 24;

    /// <summary>Ranks on the busiest GPU.</summary>
    public static int PerGpu(int ranks, int devices) => (ranks + devices - 1) / devices;

    /// <summary>The default SM count: <see cref="DefaultSms"/>, or an even share of the GPU when ranks share one.</summary>
    public static int Sms(int ranks, int devices, int smsPerGpu)
    {
        int share = smsPerGpu / PerGpu(ranks, devices);
        return Math.Min(DefaultSms, share - (share % 2));
    }

    /// <summary>One line per GPU: which ranks it runs, e.g. "cuda:0 ← ranks 0, 2, 4, 6".</summary>
    public static IEnumerable<string> Describe(int ranks, int devices) =>
        Enumerable.Range(0, Math.Min(ranks, devices)).Select(d => string.Create(CultureInfo.InvariantCulture,
            $"cuda:{d} ← rank{(PerGpu(ranks, devices) > 1 ? "s" : "")} {string.Join(", ", Enumerable.Range(0, ranks).Where(r => r % devices == d))}"));

    /// <summary>Whether other ranks share <paramref name="buffer"/>'s GPU (then NCCL, one rank per GPU, cannot run beside it).</summary>
    public static bool SharesGpu(Ep.EpBuffer buffer) =>
        buffer.Device != Tensors.DeviceTensor.HostDevice && buffer.SmBudget < Cuda.CudaDevice.Get(buffer.Device).MultiprocessorCount;

    /// <summary>The caveat for figures measured with ranks sharing a GPU, or null when every rank has its own.</summary>
    public static string? SharedGpuCaveat(int ranks, int devices) =>
        PerGpu(ranks, devices) < 2 ? null : string.Create(CultureInfo.InvariantCulture,
            $"{PerGpu(ranks, devices)} ranks share each GPU (its SMs split between them; processes are time-sliced by the driver): this checks correctness at this rank count, and the times are not NVLink figures.");
}
