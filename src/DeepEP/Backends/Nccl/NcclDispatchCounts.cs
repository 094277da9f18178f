namespace DeepEP.Backends.Nccl;

/// <summary>
/// The count exchange of a non-cached dispatch (spec §2.8), from every rank's record
/// <c>[num_tokens_per_rank (R) | num_tokens_per_expert (E) | channel counts (R×C)]</c> as all-gathered: the handle's
/// matrices (spec §2.5), the receive blocks and this rank's per-expert receive counts. Every rank parses every record,
/// so inconsistent inputs make all ranks throw together instead of leaving peers waiting.
/// </summary>
internal sealed class NcclDispatchCounts
{
    private NcclDispatchCounts(int[] rankPrefixMatrix, int[] channelPrefixMatrix, int[] recvChannelPrefixMatrix, int[] recvTokensPerLocalExpert, NcclBlocks blocks)
    {
        RankPrefixMatrix = rankPrefixMatrix;
        ChannelPrefixMatrix = channelPrefixMatrix;
        RecvChannelPrefixMatrix = recvChannelPrefixMatrix;
        RecvTokensPerLocalExpert = recvTokensPerLocalExpert;
        Blocks = blocks;
    }

    /// <summary><c>[R, R]</c> inclusive prefix over source ranks of tokens sent to each rank, every column filled.</summary>
    public int[] RankPrefixMatrix { get; }

    /// <summary><c>[R, C]</c> this rank's tokens in channels 0..c for rank d (inclusive).</summary>
    public int[] ChannelPrefixMatrix { get; }

    /// <summary><c>[R, C]</c> exclusive start of channel c inside source s's block.</summary>
    public int[] RecvChannelPrefixMatrix { get; }

    /// <summary><c>[E_l]</c> (token, slot) pairs this rank receives per local expert, not aligned.</summary>
    public int[] RecvTokensPerLocalExpert { get; }

    /// <summary>Rows to and from every peer.</summary>
    public NcclBlocks Blocks { get; }

    /// <summary>Ints in one rank's record.</summary>
    public static int RecordLength(int numRanks, int numExperts, int numChannels) => numRanks + numExperts + (numRanks * numChannels);

    /// <summary>Parses the gathered records (rank order).</summary>
    /// <exception cref="InvalidOperationException">A rank's num_tokens_per_rank disagrees with its is_token_in_rank.</exception>
    public static NcclDispatchCounts Parse(ReadOnlySpan<int> gathered, int numRanks, int numExperts, int numChannels, int rank)
    {
        int recordLength = RecordLength(numRanks, numExperts, numChannels);
        int numLocalExperts = numExperts / numRanks;
        var rankPrefix = new int[numRanks * numRanks];
        var channelPrefix = new int[numRanks * numChannels];
        var recvChannelPrefix = new int[numRanks * numChannels];
        var perLocalExpert = new int[numLocalExperts];
        var inconsistent = new List<int>();
        for (int s = 0; s < numRanks; s++)
        {
            ReadOnlySpan<int> record = gathered.Slice(s * recordLength, recordLength);
            ReadOnlySpan<int> tokensPerRank = record[..numRanks];
            ReadOnlySpan<int> channelCounts = record[(numRanks + numExperts)..];
            for (int d = 0; d < numRanks; d++)
            {
                rankPrefix[(s * numRanks) + d] = (s == 0 ? 0 : rankPrefix[((s - 1) * numRanks) + d]) + tokensPerRank[d];
                int inclusive = 0;
                for (int c = 0; c < numChannels; c++)
                {
                    if (d == rank)
                    {
                        recvChannelPrefix[(s * numChannels) + c] = inclusive;
                    }
                    inclusive += channelCounts[(d * numChannels) + c];
                    if (s == rank)
                    {
                        channelPrefix[(d * numChannels) + c] = inclusive;
                    }
                }
                if (inclusive != tokensPerRank[d] && !inconsistent.Contains(s))
                {
                    inconsistent.Add(s);
                }
            }
            ReadOnlySpan<int> mine = record.Slice(numRanks + (rank * numLocalExperts), numLocalExperts);
            for (int e = 0; e < numLocalExperts; e++)
            {
                perLocalExpert[e] += mine[e];
            }
        }
        if (inconsistent.Count > 0)
        {
            throw new InvalidOperationException(
                $"num_tokens_per_rank disagrees with is_token_in_rank on rank(s) {string.Join(", ", inconsistent)}; pass the layout from GetDispatchLayout.");
        }
        return new NcclDispatchCounts(rankPrefix, channelPrefix, recvChannelPrefix, perLocalExpert,
            NcclBlocks.FromHandle(rankPrefix, channelPrefix, numRanks, numChannels, rank));
    }

    /// <summary>M of every rank (the last row of the rank prefix matrix).</summary>
    public int ReceivedRows(int numRanks, int rank) => RankPrefixMatrix[((numRanks - 1) * numRanks) + rank];
}
