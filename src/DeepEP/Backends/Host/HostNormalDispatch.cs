using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §2: normal-mode dispatch. Each token goes once to every rank it selects; receivers order rows by
// (source rank, source token). One all-gather publishes every rank's counts (the full rank prefix matrix),
// one all-to-all moves the rows.
internal static class HostNormalDispatch
{
    public static DispatchResult Dispatch(HostExchange group, NormalDispatchRequest request) =>
        request.Handle is null ? DispatchWithLayout(group, request) : DispatchCached(group, request, request.Handle);

    private static DispatchResult DispatchWithLayout(HostExchange group, NormalDispatchRequest request)
    {
        int numRanks = group.Size;
        int rank = group.Rank;
        DeviceTensor isTokenInRankTensor = request.IsTokenInRank ?? throw MissingLayout(nameof(request.IsTokenInRank));
        int[] tokensPerRank = (request.NumTokensPerRank ?? throw MissingLayout(nameof(request.NumTokensPerRank))).ToArray<int>();
        int[] tokensPerExpert = (request.NumTokensPerExpert ?? throw MissingLayout(nameof(request.NumTokensPerExpert))).ToArray<int>();
        int numTokens = checked((int)request.X.Size(0));
        int numChannels = request.Config.NumChannels;
        int numLocalExperts = request.NumExperts / numRanks;
        bool[] isTokenInRank = HostTensorAccess.ReadFlags(isTokenInRankTensor);
        if (numChannels <= 0 || request.NumExperts % numRanks != 0 || tokensPerExpert.Length != request.NumExperts
            || isTokenInRank.Length != numTokens * numRanks || (request.TopkIdx is null) != (request.TopkWeights is null))
        {
            throw new InvalidOperationException(
                $"Dispatch needs at least one channel (got {numChannels}), E divisible by R with E expert counts (E = {request.NumExperts}, R = {numRanks}, " +
                $"{tokensPerExpert.Length} counts), is_token_in_rank [T, R] (got {isTokenInRankTensor.Describe()} for x {request.X.Describe()}) " +
                "and top-k indices and weights together or not at all.");
        }
        int[] rankPrefixMatrix = ExchangeCounts(group, isTokenInRank, tokensPerRank, tokensPerExpert, out int[] recvTokensPerLocalExpert);
        int[] channelPrefixMatrix = HostChannels.ChannelPrefixMatrix(isTokenInRank, numTokens, numRanks, numChannels);

        long[]? topkIdx = request.TopkIdx is null ? null : HostTensorAccess.ReadIndices(request.TopkIdx);
        float[]? topkWeights = request.TopkWeights?.ToArray<float>();
        int numTopk = request.TopkIdx is null ? 0 : checked((int)request.TopkIdx.Size(1));
        var payload = new HostTokenPayload(request.X, request.XScales);
        int recordBytes = sizeof(int) + payload.WireBytes + (numTopk * (sizeof(long) + sizeof(float)));

        var messages = new ReadOnlyMemory<byte>[numRanks];
        for (int d = 0; d < numRanks; d++)
        {
            int count = channelPrefixMatrix[(d * numChannels) + numChannels - 1];
            var writer = new HostWireWriter(checked(((numChannels + 1) * sizeof(int)) + (count * recordBytes)));
            writer.WriteInt32(count);
            for (int c = 0; c < numChannels; c++)
            {
                writer.WriteInt32(channelPrefixMatrix[(d * numChannels) + c]);
            }
            long firstExpert = (long)d * numLocalExperts;
            foreach (int t in TokensFor(isTokenInRank, numRanks, d))
            {
                writer.WriteInt32(t);
                payload.Write(writer, t);
                for (int k = 0; k < numTopk; k++)
                {
                    long expert = topkIdx![(t * numTopk) + k];
                    bool isLocal = expert >= firstExpert && expert < firstExpert + numLocalExperts;
                    writer.WriteInt64(isLocal ? expert - firstExpert : -1);
                    writer.WriteSingle(isLocal ? topkWeights![(t * numTopk) + k] : 0f);
                }
            }
            messages[d] = writer.Written;
        }
        byte[][] received = group.AllToAll(messages);

        int numRealRows = rankPrefixMatrix[((numRanks - 1) * numRanks) + rank];
        long numRows = request.NumWorstTokens > 0 ? request.NumWorstTokens : numRealRows;
        if (numRealRows > numRows)
        {
            throw new InvalidOperationException($"Rank {rank} receives {numRealRows} tokens but numWorstTokens is only {request.NumWorstTokens}.");
        }
        (DeviceTensor recvX, DeviceTensor? recvXScales) = payload.AllocateReceive(numRows);
        DeviceTensor? recvTopkIdx = request.TopkIdx is null ? null : DeviceTensor.Empty(request.TopkIdx.DType, [numRows, numTopk]);
        DeviceTensor? recvTopkWeights = request.TopkIdx is null ? null : DeviceTensor.Empty(DType.Float32, [numRows, numTopk]);
        var recvSrcIdx = DeviceTensor.Empty(DType.Int32, [numRows]);
        var recvChannelPrefixMatrix = new int[numRanks * numChannels];
        long row = 0;
        for (int s = 0; s < numRanks; s++)
        {
            var reader = new HostWireReader(received[s], s);
            int count = reader.ReadInt32();
            RequireAdvertisedCount(rankPrefixMatrix, numRanks, rank, s, count);
            for (int c = 0; c < numChannels; c++)
            {
                int inclusive = reader.ReadInt32();
                if (c + 1 < numChannels)
                {
                    recvChannelPrefixMatrix[(s * numChannels) + c + 1] = inclusive;
                }
            }
            for (int i = 0; i < count; i++, row++)
            {
                recvSrcIdx.At<int>(row) = reader.ReadInt32();
                payload.Read(ref reader, recvX, recvXScales, row);
                for (int k = 0; k < numTopk; k++)
                {
                    HostTensorAccess.WriteIndex(recvTopkIdx!, row, k, reader.ReadInt64());
                    recvTopkWeights!.At<float>(row, k) = reader.ReadSingle();
                }
            }
            reader.ExpectEnd();
        }
        // Spec §2.6: past the real rows only the top-k indices are defined (-1); the rest stay uninitialised.
        for (; row < numRows; row++)
        {
            for (int k = 0; k < numTopk; k++)
            {
                HostTensorAccess.WriteIndex(recvTopkIdx!, row, k, -1);
            }
        }

        int[] expertList = request.NumWorstTokens > 0
            ? []
            : Array.ConvertAll(recvTokensPerLocalExpert, n => checked((n + request.ExpertAlignment - 1) / request.ExpertAlignment * request.ExpertAlignment));
        var handle = new DispatchHandle(
            DeviceTensor.FromArray<int>(rankPrefixMatrix, [numRanks, numRanks]),
            DeviceTensor.FromArray<int>(channelPrefixMatrix, [numRanks, numChannels]),
            DeviceTensor.FromArray<int>(recvChannelPrefixMatrix, [numRanks, numChannels]),
            recvSrcIdx,
            isTokenInRankTensor,
            DeviceTensor.FromArray<int>(HostChannels.SendHead(isTokenInRank, numTokens, numRanks, numChannels), [numTokens, numRanks]),
            numChannels);
        return new DispatchResult(recvX, recvXScales, recvTopkIdx, recvTopkWeights, expertList, handle, EventOverlap.None);
    }

    // Spec §2.7: the handle fixes which tokens go where and the receive layout; only the data moves.
    private static DispatchResult DispatchCached(HostExchange group, NormalDispatchRequest request, DispatchHandle handle)
    {
        int numRanks = group.Size;
        int rank = group.Rank;
        bool[] isTokenInRank = HostTensorAccess.ReadFlags(handle.IsTokenInRank);
        int[] rankPrefixMatrix = handle.RankPrefixMatrix.ToArray<int>();
        if (request.X.Size(0) != handle.NumTokens || rankPrefixMatrix[((numRanks - 1) * numRanks) + rank] > handle.NumRecvTokens)
        {
            throw new InvalidOperationException(
                $"The handle was made for {handle.NumTokens} tokens and at most {handle.NumRecvTokens} received rows; x is {request.X.Describe()}.");
        }
        var payload = new HostTokenPayload(request.X, request.XScales);
        var messages = new ReadOnlyMemory<byte>[numRanks];
        for (int d = 0; d < numRanks; d++)
        {
            int count = TokensFor(isTokenInRank, numRanks, d).Count();
            var writer = new HostWireWriter(checked(sizeof(int) + (count * payload.WireBytes)));
            writer.WriteInt32(count);
            foreach (int t in TokensFor(isTokenInRank, numRanks, d))
            {
                payload.Write(writer, t);
            }
            messages[d] = writer.Written;
        }
        byte[][] received = group.AllToAll(messages);

        (DeviceTensor recvX, DeviceTensor? recvXScales) = payload.AllocateReceive(handle.NumRecvTokens);
        long row = 0;
        for (int s = 0; s < numRanks; s++)
        {
            var reader = new HostWireReader(received[s], s);
            int count = reader.ReadInt32();
            RequireAdvertisedCount(rankPrefixMatrix, numRanks, rank, s, count);
            for (int i = 0; i < count; i++, row++)
            {
                payload.Read(ref reader, recvX, recvXScales, row);
            }
            reader.ExpectEnd();
        }
        return new DispatchResult(recvX, recvXScales, null, null, [], null, EventOverlap.None);
    }

    // All-gathers [consistent, num_tokens_per_rank[R], num_tokens_per_expert[E]] so every rank learns the
    // full rank prefix matrix and its local experts' totals. A rank whose advertised counts disagree with
    // its is_token_in_rank makes every rank throw together (on a GPU the receivers would hang instead).
    private static int[] ExchangeCounts(HostExchange group, bool[] isTokenInRank, int[] tokensPerRank, int[] tokensPerExpert, out int[] recvTokensPerLocalExpert)
    {
        int numRanks = group.Size;
        int numExperts = tokensPerExpert.Length;
        int numLocalExperts = numExperts / numRanks;
        bool consistent = tokensPerRank.Length == numRanks;
        for (int d = 0; consistent && d < numRanks; d++)
        {
            consistent = tokensPerRank[d] == TokensFor(isTokenInRank, numRanks, d).Count();
        }
        var writer = new HostWireWriter((1 + numRanks + numExperts) * sizeof(int));
        writer.WriteInt32(consistent ? 1 : 0);
        for (int d = 0; d < numRanks; d++)
        {
            writer.WriteInt32(consistent ? tokensPerRank[d] : 0);
        }
        foreach (int n in tokensPerExpert)
        {
            writer.WriteInt32(n);
        }
        byte[][] gathered = group.AllGather(writer.Written);

        var rankPrefixMatrix = new int[numRanks * numRanks];
        recvTokensPerLocalExpert = new int[numLocalExperts];
        var inconsistentRanks = new List<int>();
        for (int s = 0; s < numRanks; s++)
        {
            var reader = new HostWireReader(gathered[s], s);
            if (reader.ReadInt32() == 0)
            {
                inconsistentRanks.Add(s);
            }
            for (int d = 0; d < numRanks; d++)
            {
                rankPrefixMatrix[(s * numRanks) + d] = (s == 0 ? 0 : rankPrefixMatrix[((s - 1) * numRanks) + d]) + reader.ReadInt32();
            }
            for (int e = 0; e < numExperts; e++)
            {
                int count = reader.ReadInt32();
                if (e / numLocalExperts == group.Rank)
                {
                    recvTokensPerLocalExpert[e % numLocalExperts] += count;
                }
            }
            reader.ExpectEnd();
        }
        if (inconsistentRanks.Count > 0)
        {
            throw new InvalidOperationException(
                $"num_tokens_per_rank disagrees with is_token_in_rank on rank(s) {string.Join(", ", inconsistentRanks)}; pass the layout from GetDispatchLayout.");
        }
        return rankPrefixMatrix;
    }

    private static void RequireAdvertisedCount(int[] rankPrefixMatrix, int numRanks, int rank, int source, int count)
    {
        int advertised = rankPrefixMatrix[(source * numRanks) + rank] - (source == 0 ? 0 : rankPrefixMatrix[((source - 1) * numRanks) + rank]);
        if (count != advertised)
        {
            throw new InvalidOperationException($"Rank {source} sent {count} tokens to rank {rank} but the rank prefix matrix says {advertised}.");
        }
    }

    private static IEnumerable<int> TokensFor(bool[] isTokenInRank, int numRanks, int destination)
    {
        for (int t = 0; t * numRanks < isTokenInRank.Length; t++)
        {
            if (isTokenInRank[(t * numRanks) + destination])
            {
                yield return t;
            }
        }
    }

    private static InvalidOperationException MissingLayout(string name) =>
        new($"A dispatch without a handle needs {name} (from GetDispatchLayout).");
}
