using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §1: per-rank, per-RDMA-rank and per-expert counts and the token-to-rank mask. Entries outside
// [0, E) (the -1 "no expert" slots) count for nothing.
internal static class HostLayout
{
    private const int RanksPerRdmaRank = 8;

    public static DispatchLayout Compute(DeviceTensor topkIdx, int numExperts, int numRanks)
    {
        if (numExperts % numRanks != 0 || (numRanks > RanksPerRdmaRank && numRanks % RanksPerRdmaRank != 0))
        {
            throw new InvalidOperationException($"{numExperts} experts over {numRanks} ranks: E must divide by R, and R above 8 by 8.");
        }
        long[] indices = HostTensorAccess.ReadIndices(topkIdx);
        int numTokens = checked((int)topkIdx.Size(0));
        int numTopk = checked((int)topkIdx.Size(1));
        int numLocalExperts = numExperts / numRanks;
        int numRdmaRanks = numRanks > RanksPerRdmaRank ? numRanks / RanksPerRdmaRank : 0;

        var tokensPerRank = new int[numRanks];
        var tokensPerRdmaRank = new int[numRdmaRanks];
        var tokensPerExpert = new int[numExperts];
        var isTokenInRank = new bool[numTokens * numRanks];
        for (int t = 0; t < numTokens; t++)
        {
            Span<bool> inRank = isTokenInRank.AsSpan(t * numRanks, numRanks);
            for (int k = 0; k < numTopk; k++)
            {
                long expert = indices[(t * numTopk) + k];
                if (expert >= 0 && expert < numExperts)
                {
                    tokensPerExpert[expert]++;
                    inRank[(int)(expert / numLocalExperts)] = true;
                }
            }
            for (int d = 0; d < numRanks; d++)
            {
                tokensPerRank[d] += inRank[d] ? 1 : 0;
            }
            for (int q = 0; q < numRdmaRanks; q++)
            {
                tokensPerRdmaRank[q] += inRank.Slice(q * RanksPerRdmaRank, RanksPerRdmaRank).Contains(true) ? 1 : 0;
            }
        }
        return new DispatchLayout(
            DeviceTensor.FromArray<int>(tokensPerRank, [numRanks]),
            numRdmaRanks > 0 ? DeviceTensor.FromArray<int>(tokensPerRdmaRank, [numRdmaRanks]) : null,
            DeviceTensor.FromArray<int>(tokensPerExpert, [numExperts]),
            DeviceTensor.FromArray<bool>(isTokenInRank, [numTokens, numRanks]),
            EventOverlap.None);
    }
}
