using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §3: normal-mode combine, the reverse all-to-all plus an unweighted reduction. Each rank returns the
// block of rows it received from every source; the source finds a token's row from send_head and the
// sender-side channel prefix, exactly the positions the GPU kernels compute.
internal static class HostNormalCombine
{
    public static CombineResult Combine(HostExchange group, NormalCombineRequest request)
    {
        int numRanks = group.Size;
        int rank = group.Rank;
        DispatchHandle handle = request.Handle;
        int numChannels = request.Config.NumChannels;
        if (handle.NumChannels != numChannels || numChannels <= 0 || request.X.DType != DType.BFloat16)
        {
            throw new InvalidOperationException(
                $"Combine needs BF16 x and the dispatch's channel count: the handle has {handle.NumChannels} channels, the config {numChannels}; x is {request.X.Describe()}.");
        }
        int numTokens = checked((int)handle.NumTokens);
        int hidden = checked((int)request.X.Size(1));
        int numTopk = request.TopkWeights is null ? 0 : checked((int)request.TopkWeights.Size(1));
        Span<int> sendHead = handle.SendHead.AsSpan<int>();
        HostChannels.PrepareSendHeadForCombine(sendHead, numTokens, numRanks, numChannels);
        int[] rankPrefixMatrix = handle.RankPrefixMatrix.ToArray<int>();
        int[] channelPrefixMatrix = handle.ChannelPrefixMatrix.ToArray<int>();

        byte[][] received = group.AllToAll(ReturnReceivedBlocks(request, rankPrefixMatrix, numRanks, rank, numTopk));
        var blocks = new ReturnedBlock[numRanks];
        for (int d = 0; d < numRanks; d++)
        {
            blocks[d] = new ReturnedBlock(received[d], d, hidden, numTopk);
        }

        var combinedX = DeviceTensor.Empty(DType.BFloat16, [numTokens, hidden]);
        DeviceTensor? combinedWeights = request.TopkWeights is null ? null : DeviceTensor.Empty(DType.Float32, [numTokens, numTopk]);
        var acc = new float[hidden];
        var accWeights = new float[numTopk];
        for (int t = 0; t < numTokens; t++)
        {
            ReadOnlySpan<BFloat16> bias0 = request.Bias0 is null ? default : HostTensorAccess.Row<BFloat16>(request.Bias0, t);
            ReadOnlySpan<BFloat16> bias1 = request.Bias1 is null ? default : HostTensorAccess.Row<BFloat16>(request.Bias1, t);
            for (int h = 0; h < hidden; h++)
            {
                acc[h] = (bias0.IsEmpty ? 0f : bias0[h].ToFloat()) + (bias1.IsEmpty ? 0f : bias1[h].ToFloat());
            }
            accWeights.AsSpan().Clear();
            int channel = HostChannels.ChannelOf(t, numTokens, numChannels);
            for (int d = 0; d < numRanks; d++)
            {
                int position = sendHead[(t * numRanks) + d];
                if (position < 0)
                {
                    continue;
                }
                int row = (channel == 0 ? 0 : channelPrefixMatrix[(d * numChannels) + channel - 1]) + position;
                ReadOnlySpan<BFloat16> values = blocks[d].Row(row);
                for (int h = 0; h < hidden; h++)
                {
                    acc[h] += values[h].ToFloat();
                }
                for (int k = 0; k < numTopk; k++)
                {
                    accWeights[k] += blocks[d].Weight(row, k);
                }
            }
            Span<BFloat16> output = HostTensorAccess.Row<BFloat16>(combinedX, t);
            for (int h = 0; h < hidden; h++)
            {
                output[h] = BFloat16.FromFloat(acc[h]);
            }
            for (int k = 0; k < numTopk; k++)
            {
                combinedWeights!.At<float>(t, k) = accWeights[k];
            }
        }
        return new CombineResult(combinedX, combinedWeights, EventOverlap.None);
    }

    // Message to source s: the rows [rpm[s-1][r], rpm[s][r]) of x (and their weights), in order.
    private static ReadOnlyMemory<byte>[] ReturnReceivedBlocks(NormalCombineRequest request, int[] rankPrefixMatrix, int numRanks, int rank, int numTopk)
    {
        long numRealRows = rankPrefixMatrix[((numRanks - 1) * numRanks) + rank];
        if (numRealRows > request.X.Size(0) || (request.TopkWeights is not null && request.TopkWeights.Size(0) != request.X.Size(0)))
        {
            throw new InvalidOperationException(
                $"The handle names {numRealRows} received rows; x is {request.X.Describe()} and topk_weights {request.TopkWeights?.Describe() ?? "absent"}.");
        }
        int rowBytes = checked((int)request.X.Size(1) * sizeof(ushort));
        var messages = new ReadOnlyMemory<byte>[numRanks];
        for (int s = 0; s < numRanks; s++)
        {
            int begin = s == 0 ? 0 : rankPrefixMatrix[((s - 1) * numRanks) + rank];
            int end = rankPrefixMatrix[(s * numRanks) + rank];
            var writer = new HostWireWriter(checked(sizeof(int) + ((end - begin) * (rowBytes + (numTopk * sizeof(float))))));
            writer.WriteInt32(end - begin);
            for (int row = begin; row < end; row++)
            {
                writer.WriteBytes(MemoryMarshal.AsBytes(HostTensorAccess.Row<BFloat16>(request.X, row)));
                for (int k = 0; k < numTopk; k++)
                {
                    writer.WriteSingle(request.TopkWeights!.At<float>(row, k));
                }
            }
            messages[s] = writer.Written;
        }
        return messages;
    }

    // The rows one rank returned, addressable by their position in that rank's block.
    private readonly struct ReturnedBlock
    {
        private const int HeaderBytes = sizeof(int);
        private readonly byte[] _message;
        private readonly int _source;
        private readonly int _rowBytes;
        private readonly int _recordBytes;
        private readonly int _count;

        public ReturnedBlock(byte[] message, int source, int hidden, int numTopk)
        {
            var reader = new HostWireReader(message, source);
            _count = reader.ReadInt32();
            _message = message;
            _source = source;
            _rowBytes = hidden * sizeof(ushort);
            _recordBytes = _rowBytes + (numTopk * sizeof(float));
            reader.ReadBytes(checked(_count * _recordBytes));
            reader.ExpectEnd();
        }

        public ReadOnlySpan<BFloat16> Row(int row) => MemoryMarshal.Cast<byte, BFloat16>(Record(row)[.._rowBytes]);

        public float Weight(int row, int k) => BinaryPrimitives.ReadSingleLittleEndian(Record(row)[(_rowBytes + (k * sizeof(float)))..]);

        private ReadOnlySpan<byte> Record(int row)
        {
            if ((uint)row >= (uint)_count)
            {
                throw new InvalidOperationException(
                    $"send_head points at row {row} of the {_count} rows rank {_source} returned; the handle does not match this routing.");
            }
            return _message.AsSpan(HeaderBytes + (row * _recordBytes), _recordBytes);
        }
    }
}
