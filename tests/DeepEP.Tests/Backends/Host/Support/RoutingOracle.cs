namespace DeepEP.Tests.Backends.Host.Support;

/// <summary>
/// An independent reference of DeepEP's routing semantics, written straight from the spec (§1–3, §5) with
/// none of the backend's code: plain loops over all ranks' inputs, float64 arithmetic that rounds to float32
/// only where the spec's order requires it, and its own BF16 rounding.
/// </summary>
internal static class RoutingOracle
{
    /// <summary>The position the combine preparation writes when no later token of the channel is selected.</summary>
    public const int NoLaterToken = 1 << 25;

    public static bool IsValid(long expert, int numExperts) => expert >= 0 && expert < numExperts;

    /// <summary>Spec §1: token t has an expert on rank d.</summary>
    public static bool[,] IsTokenInRank(long[,] topkIdx, int numExperts, int numRanks)
    {
        int numLocalExperts = numExperts / numRanks;
        var result = new bool[topkIdx.GetLength(0), numRanks];
        for (int t = 0; t < topkIdx.GetLength(0); t++)
        {
            for (int k = 0; k < topkIdx.GetLength(1); k++)
            {
                if (IsValid(topkIdx[t, k], numExperts))
                {
                    result[t, topkIdx[t, k] / numLocalExperts] = true;
                }
            }
        }
        return result;
    }

    public static int[] TokensPerRank(bool[,] isTokenInRank)
    {
        var result = new int[isTokenInRank.GetLength(1)];
        for (int t = 0; t < isTokenInRank.GetLength(0); t++)
        {
            for (int d = 0; d < result.Length; d++)
            {
                result[d] += isTokenInRank[t, d] ? 1 : 0;
            }
        }
        return result;
    }

    /// <summary>(token, slot) pairs per expert: a duplicated expert in a row counts twice.</summary>
    public static int[] TokensPerExpert(long[,] topkIdx, int numExperts)
    {
        var result = new int[numExperts];
        foreach (long expert in topkIdx)
        {
            if (IsValid(expert, numExperts))
            {
                result[expert]++;
            }
        }
        return result;
    }

    /// <summary>Spec §2.3: the rows rank <paramref name="receiver"/> gets, ordered by (source rank, source token).</summary>
    public static List<(int Source, int Token)> ReceivedTokens(RankData[] ranks, int numExperts, int receiver)
    {
        var rows = new List<(int, int)>();
        for (int s = 0; s < ranks.Length; s++)
        {
            bool[,] inRank = IsTokenInRank(ranks[s].TopkIdx, numExperts, ranks.Length);
            for (int t = 0; t < ranks[s].NumTokens; t++)
            {
                if (inRank[t, receiver])
                {
                    rows.Add((s, t));
                }
            }
        }
        return rows;
    }

    /// <summary>Spec §0: a global expert as the receiver's local expert, or -1.</summary>
    public static long Rebase(long expert, int receiver, int numLocalExperts) =>
        expert >= (long)receiver * numLocalExperts && expert < (long)(receiver + 1) * numLocalExperts ? expert - ((long)receiver * numLocalExperts) : -1;

    /// <summary>Spec §2.4: per local expert, (token, slot) pairs received, rounded up to the alignment.</summary>
    public static int[] RecvTokensPerExpert(RankData[] ranks, int numExperts, int receiver, int alignment)
    {
        int numLocalExperts = numExperts / ranks.Length;
        var result = new int[numLocalExperts];
        foreach (RankData rank in ranks)
        {
            int[] perExpert = TokensPerExpert(rank.TopkIdx, numExperts);
            for (int i = 0; i < numLocalExperts; i++)
            {
                result[i] += perExpert[(receiver * numLocalExperts) + i];
            }
        }
        return Array.ConvertAll(result, n => (n + alignment - 1) / alignment * alignment);
    }

    /// <summary>Spec §2.5: rpm[i][j] = tokens sent to rank j by ranks 0..i.</summary>
    public static int[,] RankPrefixMatrix(RankData[] ranks, int numExperts)
    {
        int numRanks = ranks.Length;
        var result = new int[numRanks, numRanks];
        for (int i = 0; i < numRanks; i++)
        {
            int[] perRank = TokensPerRank(IsTokenInRank(ranks[i].TopkIdx, numExperts, numRanks));
            for (int j = 0; j < numRanks; j++)
            {
                result[i, j] = (i == 0 ? 0 : result[i - 1, j]) + perRank[j];
            }
        }
        return result;
    }

    /// <summary>Spec §4.1: the channel of every token (per = ceil(T/C), start_c = min(per·c, T)).</summary>
    public static int[] ChannelOfTokens(int numTokens, int numChannels)
    {
        var result = new int[numTokens];
        int perChannel = (numTokens + numChannels - 1) / numChannels;
        for (int c = 0; c < numChannels; c++)
        {
            int start = Math.Min(perChannel * c, numTokens);
            for (int t = start; t < Math.Min(start + perChannel, numTokens); t++)
            {
                result[t] = c;
            }
        }
        return result;
    }

    /// <summary>Spec §2.5: cpm[d][c] = tokens of channels 0..c that go to rank d.</summary>
    public static int[,] ChannelPrefixMatrix(bool[,] isTokenInRank, int numChannels)
    {
        int numTokens = isTokenInRank.GetLength(0);
        int[] channels = ChannelOfTokens(numTokens, numChannels);
        var result = new int[isTokenInRank.GetLength(1), numChannels];
        for (int d = 0; d < result.GetLength(0); d++)
        {
            for (int c = 0; c < numChannels; c++)
            {
                for (int t = 0; t < numTokens; t++)
                {
                    result[d, c] += isTokenInRank[t, d] && channels[t] <= c ? 1 : 0;
                }
            }
        }
        return result;
    }

    /// <summary>Spec §2.5: rcpm[s][c] = cpm_s[receiver][c-1], 0 for c = 0.</summary>
    public static int[,] RecvChannelPrefixMatrix(RankData[] ranks, int numExperts, int receiver, int numChannels)
    {
        var result = new int[ranks.Length, numChannels];
        for (int s = 0; s < ranks.Length; s++)
        {
            int[,] senderMatrix = ChannelPrefixMatrix(IsTokenInRank(ranks[s].TopkIdx, numExperts, ranks.Length), numChannels);
            for (int c = 1; c < numChannels; c++)
            {
                result[s, c] = senderMatrix[receiver, c - 1];
            }
        }
        return result;
    }

    /// <summary>Spec §2.5: send_head after dispatch, or after the combine preparation's rewrite.</summary>
    public static int[,] SendHead(bool[,] isTokenInRank, int numChannels, bool afterCombine)
    {
        int numTokens = isTokenInRank.GetLength(0);
        int numRanks = isTokenInRank.GetLength(1);
        int[] channels = ChannelOfTokens(numTokens, numChannels);
        var result = new int[numTokens, numRanks];
        for (int t = 0; t < numTokens; t++)
        {
            for (int d = 0; d < numRanks; d++)
            {
                int position = 0;
                for (int u = 0; u < t; u++)
                {
                    position += channels[u] == channels[t] && isTokenInRank[u, d] ? 1 : 0;
                }
                bool hasLater = false;
                for (int u = t + 1; u < numTokens; u++)
                {
                    hasLater |= channels[u] == channels[t] && isTokenInRank[u, d];
                }
                result[t, d] = isTokenInRank[t, d] ? position
                    : !afterCombine ? -1
                    : hasLater ? -position - 1
                    : -NoLaterToken - 1;
            }
        }
        return result;
    }

    /// <summary>
    /// Spec §3 for the tokens of rank <paramref name="owner"/>: acc = bias0 + bias1, then each rank's row in rank
    /// order, float32 accumulation, one BF16 rounding. <paramref name="combineInputs"/>[d] is rank d's
    /// <c>[M_d, H]</c> input (row-major floats) in its dispatch order.
    /// </summary>
    public static ushort[,] NormalCombine(RankData[] ranks, int numExperts, int owner, float[][] combineInputs, float[]? bias0, float[]? bias1)
    {
        int hidden = ranks[owner].Hidden;
        bool[,] inRank = IsTokenInRank(ranks[owner].TopkIdx, numExperts, ranks.Length);
        int[] positions = PositionsInReceivers(ranks, numExperts, owner);
        var result = new ushort[ranks[owner].NumTokens, hidden];
        for (int t = 0; t < result.GetLength(0); t++)
        {
            for (int h = 0; h < hidden; h++)
            {
                int i = (t * hidden) + h;
                double acc = ToFloat32((bias0 is null ? 0.0 : bias0[i]) + (bias1 is null ? 0.0 : bias1[i]));
                for (int d = 0; d < ranks.Length; d++)
                {
                    if (inRank[t, d])
                    {
                        acc = ToFloat32(acc + combineInputs[d][(positions[(t * ranks.Length) + d] * hidden) + h]);
                    }
                }
                result[t, h] = BFloat16Bits(acc);
            }
        }
        return result;
    }

    /// <summary>Spec §3: the combined top-k weights, summed from 0 in rank order in float32.</summary>
    public static float[,] NormalCombineWeights(RankData[] ranks, int numExperts, int owner, float[][] weightInputs)
    {
        int numTopk = ranks[owner].NumTopk;
        bool[,] inRank = IsTokenInRank(ranks[owner].TopkIdx, numExperts, ranks.Length);
        int[] positions = PositionsInReceivers(ranks, numExperts, owner);
        var result = new float[ranks[owner].NumTokens, numTopk];
        for (int t = 0; t < result.GetLength(0); t++)
        {
            for (int k = 0; k < numTopk; k++)
            {
                double acc = 0;
                for (int d = 0; d < ranks.Length; d++)
                {
                    if (inRank[t, d])
                    {
                        acc = ToFloat32(acc + weightInputs[d][(positions[(t * ranks.Length) + d] * numTopk) + k]);
                    }
                }
                result[t, k] = (float)acc;
            }
        }
        return result;
    }

    /// <summary>Spec §5.3: rows local expert e of <paramref name="receiver"/> gets, from unmasked sources.</summary>
    public static int[] LowLatencyCounts(RankData[] ranks, int numExperts, int receiver, bool[] masked) =>
        [.. Enumerable.Range(0, numExperts / ranks.Length).Select(e => LowLatencyPairs(ranks, numExperts, receiver, e, masked).Count)];

    /// <summary>Spec §5.3: the (source rank, source token) of every valid slot selecting the expert, one per slot.</summary>
    public static List<(int Source, int Token)> LowLatencyPairs(RankData[] ranks, int numExperts, int receiver, int localExpert, bool[] masked)
    {
        long expert = ((long)receiver * (numExperts / ranks.Length)) + localExpert;
        var pairs = new List<(int, int)>();
        for (int s = 0; s < ranks.Length; s++)
        {
            for (int t = 0; t < ranks[s].NumTokens && !masked[s]; t++)
            {
                for (int k = 0; k < ranks[s].NumTopk; k++)
                {
                    if (ranks[s].TopkIdx[t, k] == expert)
                    {
                        pairs.Add((s, t));
                    }
                }
            }
        }
        return pairs;
    }

    /// <summary>
    /// Spec §5.4 for one rank whose expert e returns <c>x · expertScale(e)</c>: the float64 weighted sum, and
    /// the bit pattern of the float32 FMA-order recomputation rounded once to BF16. Slots that are -1 or owned
    /// by a masked rank are skipped.
    /// </summary>
    public static (double[,] Reference, ushort[,] FmaOrderBits) LowLatencyCombine(RankData rank, int numExperts, bool[] masked, Func<long, float> expertScale)
    {
        int numLocalExperts = numExperts / masked.Length;
        var reference = new double[rank.NumTokens, rank.Hidden];
        var bits = new ushort[rank.NumTokens, rank.Hidden];
        for (int t = 0; t < rank.NumTokens; t++)
        {
            for (int h = 0; h < rank.Hidden; h++)
            {
                double sum = 0;
                float acc = 0;
                for (int k = 0; k < rank.NumTopk; k++)
                {
                    long expert = rank.TopkIdx[t, k];
                    if (!IsValid(expert, numExperts) || masked[expert / numLocalExperts])
                    {
                        continue;
                    }
                    float value = rank.Row(t)[h].ToFloat() * expertScale(expert);
                    sum += (double)value * rank.TopkWeights[t, k];
                    acc = MathF.FusedMultiplyAdd(value, rank.TopkWeights[t, k], acc);
                }
                reference[t, h] = sum;
                bits[t, h] = BFloat16Bits(acc);
            }
        }
        return (reference, bits);
    }

    /// <summary>Round-to-nearest-even to BF16 of a float32 value, from its magnitude rather than its bits.</summary>
    public static ushort BFloat16Bits(double float32Value)
    {
        float value = (float)float32Value;
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }
        double magnitude = Math.Abs((double)value);
        double rounded = magnitude;
        if (magnitude != 0 && !double.IsInfinity(magnitude))
        {
            double ulp = Math.ScaleB(1.0, Math.Max(Math.ILogB(magnitude), -126) - 7);
            rounded = Math.Round(magnitude / ulp, MidpointRounding.ToEven) * ulp;
        }
        float signed = float.IsNegative(value) ? -(float)rounded : (float)rounded;
        return (ushort)(BitConverter.SingleToUInt32Bits(signed) >> 16);
    }

    private static double ToFloat32(double value) => (float)value;

    // positions[t * R + d]: the row of owner's token t in rank d's dispatch output (when sent there).
    private static int[] PositionsInReceivers(RankData[] ranks, int numExperts, int owner)
    {
        var positions = new int[ranks[owner].NumTokens * ranks.Length];
        for (int d = 0; d < ranks.Length; d++)
        {
            List<(int Source, int Token)> received = ReceivedTokens(ranks, numExperts, d);
            for (int row = 0; row < received.Count; row++)
            {
                if (received[row].Source == owner)
                {
                    positions[(received[row].Token * ranks.Length) + d] = row;
                }
            }
        }
        return positions;
    }
}
