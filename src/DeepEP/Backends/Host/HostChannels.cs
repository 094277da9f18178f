namespace DeepEP.Backends.Host;

// Spec §4.1 and §2.5: the channel split of a rank's tokens and the send_head values it implies. Only the
// handle depends on channels; the received rows do not.
internal static class HostChannels
{
    // The "no later selected token in this channel" position the combine preparation writes (-(2^25)-1).
    public const int NoLaterTokenPosition = 1 << 25;

    // Channel c covers [min(per*c, n), min(start + per, n)) with per = ceil(n / C).
    public static (int Start, int End) TokenRange(int numTokens, int numChannels, int channel)
    {
        int perChannel = TokensPerChannel(numTokens, numChannels);
        int start = Math.Min(perChannel * channel, numTokens);
        return (start, Math.Min(start + perChannel, numTokens));
    }

    public static int ChannelOf(int token, int numTokens, int numChannels) => token / TokensPerChannel(numTokens, numChannels);

    // [R, C]: cpm[d][c] = this rank's tokens in channels 0..c (inclusive) that go to rank d.
    public static int[] ChannelPrefixMatrix(bool[] isTokenInRank, int numTokens, int numRanks, int numChannels)
    {
        var matrix = new int[numRanks * numChannels];
        for (int d = 0; d < numRanks; d++)
        {
            int running = 0;
            for (int c = 0; c < numChannels; c++)
            {
                (int start, int end) = TokenRange(numTokens, numChannels, c);
                for (int t = start; t < end; t++)
                {
                    running += isTokenInRank[(t * numRanks) + d] ? 1 : 0;
                }
                matrix[(d * numChannels) + c] = running;
            }
        }
        return matrix;
    }

    // [T, R] after dispatch: a selected token's position in its (channel, destination) stream, else -1.
    public static int[] SendHead(bool[] isTokenInRank, int numTokens, int numRanks, int numChannels)
    {
        var sendHead = new int[numTokens * numRanks];
        for (int c = 0; c < numChannels; c++)
        {
            (int start, int end) = TokenRange(numTokens, numChannels, c);
            for (int d = 0; d < numRanks; d++)
            {
                int position = 0;
                for (int t = start; t < end; t++)
                {
                    int i = (t * numRanks) + d;
                    sendHead[i] = isTokenInRank[i] ? position++ : -1;
                }
            }
        }
        return sendHead;
    }

    // The in-place rewrite every combine performs first (spec §2.5): each negative entry becomes -(p)-1,
    // p being the position of the next selected token of the same channel and destination. Idempotent.
    public static void PrepareSendHeadForCombine(Span<int> sendHead, int numTokens, int numRanks, int numChannels)
    {
        for (int c = 0; c < numChannels; c++)
        {
            (int start, int end) = TokenRange(numTokens, numChannels, c);
            for (int d = 0; d < numRanks; d++)
            {
                int nextPosition = NoLaterTokenPosition;
                for (int t = end - 1; t >= start; t--)
                {
                    ref int head = ref sendHead[(t * numRanks) + d];
                    if (head >= 0)
                    {
                        nextPosition = head;
                    }
                    else
                    {
                        head = -nextPosition - 1;
                    }
                }
            }
        }
    }

    private static int TokensPerChannel(int numTokens, int numChannels) => (numTokens + numChannels - 1) / numChannels;
}
