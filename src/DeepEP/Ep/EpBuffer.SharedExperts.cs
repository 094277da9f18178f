using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// DeepEP-Ascend's shared-expert ranks (MOE_SHARED_EXPERT_RANK_NUM) in low-latency mode, mapped by SharedExpertLayout.
public sealed partial class EpBuffer
{
    /// <summary>
    /// N, the leading ranks that each hold one shared-expert replica in low-latency mode (DeepEP-Ascend's
    /// <c>shared_expert_rank_num</c>): <see cref="EpBufferOptions.SharedExpertRankNum"/>, else <c>MOE_SHARED_EXPERT_RANK_NUM</c>,
    /// else 0. With N &gt; 0 the <c>numExperts</c> of low-latency calls counts routed experts only, which live on ranks N..R-1.
    /// </summary>
    public int SharedExpertRankNum { get; }

    /// <summary>
    /// Bytes of <c>numRdmaBytes</c> that low-latency mode needs with <paramref name="sharedExpertRankNum"/> shared-expert ranks:
    /// the backends then move E' = R·E/(R − N) experts.
    /// </summary>
    /// <param name="numMaxDispatchTokensPerRank">N of the low-latency calls.</param>
    /// <param name="hidden">H.</param>
    /// <param name="numRanks">R.</param>
    /// <param name="numExperts">E, the routed experts, a multiple of R − <paramref name="sharedExpertRankNum"/>.</param>
    /// <param name="sharedExpertRankNum">Shared-expert ranks, 0 to R - 1.</param>
    public static long GetLowLatencyRdmaSizeHint(int numMaxDispatchTokensPerRank, int hidden, int numRanks, int numExperts, int sharedExpertRankNum)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numRanks);
        CheckSharedExpertRankNum(sharedExpertRankNum, numRanks, nameof(sharedExpertRankNum));
        int experts = sharedExpertRankNum == 0 ? numExperts
            : SharedExpertLayout.Create(sharedExpertRankNum, numRanks, numExperts, 1, nameof(numExperts)).PaddedExperts;
        return GetLowLatencyRdmaSizeHint(numMaxDispatchTokensPerRank, hidden, numRanks, experts);
    }

    private static int ResolveSharedExpertRankNum(EpBufferOptions options, int groupSize)
    {
        if (options.SharedExpertRankNum is { } explicitly)
        {
            CheckSharedExpertRankNum(explicitly, groupSize, "options.SharedExpertRankNum");
            return explicitly;
        }
        int ranks = EpEnvironment.Current.SharedExpertRankNum ?? 0;
        CheckSharedExpertRankNum(ranks, groupSize, EpEnvironment.SharedExpertRankNumVariable);
        return ranks;
    }

    private static void CheckSharedExpertRankNum(int ranks, int groupSize, string name) =>
        TensorChecks.That(ranks >= 0 && ranks < groupSize, name,
            $"{name} ({ranks}) must be at least 0 and below the group size {groupSize}: at least one rank must hold the routed experts. " +
            $"Lower it, or set 0 (or unset {EpEnvironment.SharedExpertRankNumVariable}) for no shared-expert ranks.");

    /// <summary>The shared-expert layout of a low-latency call with <paramref name="numExperts"/> routed experts, or null when N = 0.</summary>
    private SharedExpertLayout? SharedLayout(int numExperts, long topk) =>
        SharedExpertRankNum == 0 ? null : SharedExpertLayout.Create(SharedExpertRankNum, GroupSize, numExperts, topk, nameof(numExperts));

    /// <summary>The expert count the backend sees for a low-latency call with <paramref name="numExperts"/> routed experts.</summary>
    private int BackendExperts(int numExperts) => SharedLayout(numExperts, 1)?.PaddedExperts ?? numExperts;

    /// <summary>The caller's top-k routed through <paramref name="layout"/>; a host round trip, so refused during CUDA-graph capture.</summary>
    private DeviceTensor RouteShared(SharedExpertLayout layout, DeviceTensor topkIdx, CudaStream? stream)
    {
        if (IsCapturing(stream))
        {
            throw new InvalidOperationException(
                $"Low-latency calls with shared-expert ranks (SharedExpertRankNum = {SharedExpertRankNum}) add the shared expert's top-k column " +
                "through the host, which cannot be captured into a CUDA graph; run them outside capture or without shared-expert ranks.");
        }
        return layout.Route(topkIdx, Rank, Device);
    }
}
