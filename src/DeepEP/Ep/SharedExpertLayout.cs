using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// DeepEP-Ascend's shared-expert ranks (<c>MOE_SHARED_EXPERT_RANK_NUM</c>) mapped onto the uniform low-latency layout:
/// with N shared ranks, R ranks and E routed experts, each rank has L = E / (R - N) local experts, the backends see
/// E' = L·R experts, routed expert r is id N·L + r (on rank N + r / L) and shared rank j's shared expert is id j·L
/// (its local slot 0; its slots 1..L-1 stay empty). Every token of source rank s also selects id (s % N)·L with weight 1.
/// </summary>
internal sealed class SharedExpertLayout
{
    private SharedExpertLayout(int sharedRanks, int groupSize, int routedExperts)
    {
        SharedRanks = sharedRanks;
        GroupSize = groupSize;
        RoutedExperts = routedExperts;
        LocalExperts = routedExperts / (groupSize - sharedRanks);
    }

    /// <summary>N, the leading ranks holding a shared-expert replica.</summary>
    public int SharedRanks { get; }

    /// <summary>R.</summary>
    public int GroupSize { get; }

    /// <summary>E, the routed experts the caller's top-k ids refer to.</summary>
    public int RoutedExperts { get; }

    /// <summary>L, the local expert slots of every rank.</summary>
    public int LocalExperts { get; }

    /// <summary>E' = L·R, the expert count the backends see.</summary>
    public int PaddedExperts => LocalExperts * GroupSize;

    /// <summary>
    /// The layout for <paramref name="routedExperts"/> and top-k width <paramref name="topk"/>, or an
    /// <see cref="ArgumentException"/> naming <paramref name="name"/> and the fix.
    /// </summary>
    public static SharedExpertLayout Create(int sharedRanks, int groupSize, int routedExperts, long topk, string name)
    {
        int routedRanks = groupSize - sharedRanks;
        TensorChecks.That(routedExperts > 0 && routedExperts % routedRanks == 0, name,
            $"{name} ({routedExperts}) must be a positive multiple of the {routedRanks} routed-expert ranks (group size {groupSize} minus " +
            $"{sharedRanks} shared-expert ranks, {EpEnvironment.SharedExpertRankNumVariable}); change the expert count or the shared-expert rank count.");
        TensorChecks.That(routedExperts / routedRanks <= EpBuffer.MaxLocalExperts, name,
            $"{name} ({routedExperts}) gives {routedExperts / routedRanks} experts per routed rank; at most {EpBuffer.MaxLocalExperts} are supported.");
        CheckTopkRoom(topk, sharedRanks);
        return new SharedExpertLayout(sharedRanks, groupSize, routedExperts);
    }

    /// <summary>Throws unless a top-k of <paramref name="topk"/> columns leaves room for the shared expert's column.</summary>
    public static void CheckTopkRoom(long topk, int sharedRanks) =>
        TensorChecks.That(topk < EpBuffer.MaxTopk, "topkIdx",
            $"topkIdx has {topk} top-k columns; with shared-expert ranks ({EpEnvironment.SharedExpertRankNumVariable} = {sharedRanks}) one more column " +
            $"carries the shared expert, so at most {EpBuffer.MaxTopk - 1} are supported.");

    /// <summary>The backend expert id of the shared expert that tokens of <paramref name="sourceRank"/> go to.</summary>
    public int SharedExpertId(int sourceRank) => sourceRank % SharedRanks * LocalExperts;

    /// <summary>
    /// <c>[T, K + 1]</c> Int64 on <paramref name="device"/>: the caller's ids mapped to backend ids (-1 kept), then the
    /// shared expert of <paramref name="sourceRank"/>. Copies through the host.
    /// </summary>
    public DeviceTensor Route(DeviceTensor topkIdx, int sourceRank, int device)
    {
        long tokens = topkIdx.Size(0);
        int k = checked((int)topkIdx.Size(1));
        long[] ids = topkIdx.ToArray<long>();
        long[] routed = new long[tokens * (k + 1)];
        int offset = SharedRanks * LocalExperts;
        for (long t = 0; t < tokens; t++)
        {
            for (int j = 0; j < k; j++)
            {
                long id = ids[t * k + j];
                TensorChecks.That(id >= -1 && id < RoutedExperts, nameof(topkIdx),
                    $"topkIdx[{t}, {j}] = {id} is not a routed expert id: use -1 for a masked slot or a value in [0, {RoutedExperts}).");
                routed[t * (k + 1) + j] = id < 0 ? -1 : id + offset;
            }
            routed[t * (k + 1) + k] = SharedExpertId(sourceRank);
        }
        return DeviceTensor.FromArray<long>(routed, [tokens, k + 1], device);
    }

    /// <summary><c>[T, K + 1]</c> Float32 on <paramref name="device"/>: the caller's weights, then 1 for the shared expert. Copies through the host.</summary>
    public static DeviceTensor Weigh(DeviceTensor topkWeights, int device)
    {
        long tokens = topkWeights.Size(0);
        int k = checked((int)topkWeights.Size(1));
        float[] weights = topkWeights.ToArray<float>();
        float[] result = new float[tokens * (k + 1)];
        for (long t = 0; t < tokens; t++)
        {
            Array.Copy(weights, t * k, result, t * (k + 1), k);
            result[t * (k + 1) + k] = 1f;
        }
        return DeviceTensor.FromArray<float>(result, [tokens, k + 1], device);
    }
}
