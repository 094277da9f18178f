using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §5.3: low-latency dispatch. A token travels once per valid top-k slot and lands in the packed
// [E_l, R*N, H] block of its expert. The spec leaves the packing order open; here it is deterministic:
// per expert, source ranks ascending, then (token, slot) ascending. The send phase exchanges the
// messages; the receive phase packs them, at once or when the hook runs.
internal static class HostLowLatencyDispatch
{
    // Per destination: the liveness header, the message count, then the messages.
    private const int MessagesOffset = HostPeerLiveness.HeaderBytes + sizeof(int);

    // A message is: local expert, source token, then the payload.
    private const int MessageHeaderBytes = 2 * sizeof(int);

    public static LowLatencyDispatchResult Dispatch(HostExchange group, LowLatencyDispatchRequest request, LowLatencyCombineBuffers buffers, bool[] maskedRanks)
    {
        var geometry = new Geometry(group.Size, request);
        int set = buffers.Acquire("LowLatencyDispatch");
        byte[]?[] received = group.LowLatencyAllToAll(Send(request, geometry, maskedRanks), maskedRanks);

        int rows = geometry.NumRanks * geometry.MaxTokensPerRank;
        DeviceTensor packedRecvX = DeviceTensor.Empty(request.UseFp8 ? DType.Float8E4M3 : DType.BFloat16, [geometry.NumLocalExperts, rows, geometry.Hidden]);
        DeviceTensor? packedRecvXScales = request.UseFp8 ? AllocateScales(request.UseUe8m0, geometry) : null;
        var packedRecvCount = DeviceTensor.Empty(DType.Int32, [geometry.NumLocalExperts]);
        var srcInfo = DeviceTensor.Empty(DType.Int32, [geometry.NumLocalExperts, rows]);
        var layoutRange = DeviceTensor.Empty(DType.Int64, [geometry.NumLocalExperts, geometry.NumRanks]);
        var maskSnapshot = (bool[])maskedRanks.Clone();
        void Receive()
        {
            Pack(received, maskSnapshot, request, geometry, packedRecvX, packedRecvXScales, packedRecvCount, srcInfo, layoutRange);
            if (request.CountsAsPrefixSums)
            {
                Span<int> counts = packedRecvCount.AsSpan<int>();
                for (int e = 1; e < counts.Length; e++)
                {
                    counts[e] += counts[e - 1];
                }
            }
        }

        Action? hook = request.ReturnRecvHook ? buffers.DeferReceive(set, Receive) : null;
        if (hook is null)
        {
            Receive();
        }
        var handle = new LowLatencyHandle(srcInfo, layoutRange, geometry.MaxTokensPerRank, geometry.Hidden, request.NumExperts);
        return new LowLatencyDispatchResult(packedRecvX, packedRecvXScales, packedRecvCount, handle, EventOverlap.None, hook);
    }

    // Float32 [E_l, R*N, S] (UE8M0: Int32 [E_l, R*N, S/4]) stored as [E_l][S][R*N].
    private static DeviceTensor AllocateScales(bool useUe8m0, Geometry geometry)
    {
        int columns = useUe8m0 ? geometry.NumScales / Fp8Cast.ScalesPerUe8m0Word : geometry.NumScales;
        long rows = (long)geometry.NumRanks * geometry.MaxTokensPerRank;
        return DeviceTensor.EmptyStrided(
            useUe8m0 ? DType.Int32 : DType.Float32,
            [geometry.NumLocalExperts, rows, columns],
            [columns * rows, 1, rows]);
    }

    // Messages to each unmasked destination in (token, slot) order; FP8 rows are cast once per token.
    private static ReadOnlyMemory<byte>[] Send(LowLatencyDispatchRequest request, Geometry geometry, bool[] maskedRanks)
    {
        long[] topkIdx = HostTensorAccess.ReadIndices(request.TopkIdx);
        int numTokens = checked((int)request.X.Size(0));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        if (numTokens > geometry.MaxTokensPerRank || request.TopkIdx.Size(0) != numTokens)
        {
            throw new InvalidOperationException(
                $"Low-latency dispatch takes at most N = {geometry.MaxTokensPerRank} tokens with one top-k row each; x is {request.X.Describe()}, topk_idx {request.TopkIdx.Describe()}.");
        }
        var counts = new int[geometry.NumRanks];
        foreach ((int _, int _, int destination) in ValidSlots(topkIdx, numTopk, request.NumExperts, geometry, maskedRanks))
        {
            counts[destination]++;
        }
        var writers = new HostWireWriter[geometry.NumRanks];
        for (int d = 0; d < geometry.NumRanks; d++)
        {
            writers[d] = new HostWireWriter(checked(MessagesOffset + (counts[d] * geometry.MessageBytes)));
            HostPeerLiveness.WriteHeader(writers[d], maskedRanks[d]);
            writers[d].WriteInt32(counts[d]);
        }
        byte[] payload = new byte[geometry.PayloadBytes];
        int castToken = -1;
        foreach ((int token, int localExpert, int destination) in ValidSlots(topkIdx, numTopk, request.NumExperts, geometry, maskedRanks))
        {
            if (castToken != token)
            {
                EncodePayload(HostTensorAccess.Row<BFloat16>(request.X, token), payload, request);
                castToken = token;
            }
            writers[destination].WriteInt32(localExpert);
            writers[destination].WriteInt32(token);
            writers[destination].WriteBytes(payload);
        }
        return Array.ConvertAll(writers, w => w.Written);
    }

    // (token, local expert, destination) of every selected expert whose owner is not masked, in (token, slot) order.
    private static IEnumerable<(int Token, int LocalExpert, int Destination)> ValidSlots(
        long[] topkIdx, int numTopk, int numExperts, Geometry geometry, bool[] maskedRanks)
    {
        for (int i = 0; i < topkIdx.Length; i++)
        {
            long expert = topkIdx[i];
            if (expert >= 0 && expert < numExperts && !maskedRanks[expert / geometry.NumLocalExperts])
            {
                yield return (i / numTopk, (int)(expert % geometry.NumLocalExperts), (int)(expert / geometry.NumLocalExperts));
            }
        }
    }

    // BF16: the row's bytes. FP8: H bytes of E4M3 then S float32 scale_inv values (spec §5.3 message).
    private static void EncodePayload(ReadOnlySpan<BFloat16> row, Span<byte> payload, LowLatencyDispatchRequest request)
    {
        if (!request.UseFp8)
        {
            MemoryMarshal.AsBytes(row).CopyTo(payload);
            return;
        }
        Span<Float8E4M3> quantised = MemoryMarshal.Cast<byte, Float8E4M3>(payload[..row.Length]);
        Span<float> scaleInv = MemoryMarshal.Cast<byte, float>(payload[row.Length..]);
        Fp8Cast.CastRow(row, quantised, scaleInv, request.RoundScale);
    }

    private static void Pack(
        byte[]?[] received, bool[] maskedRanks, LowLatencyDispatchRequest request, Geometry geometry,
        DeviceTensor packedRecvX, DeviceTensor? packedRecvXScales, DeviceTensor packedRecvCount, DeviceTensor srcInfo, DeviceTensor layoutRange)
    {
        int numLocalExperts = geometry.NumLocalExperts;
        int numRanks = geometry.NumRanks;
        int rows = numRanks * geometry.MaxTokensPerRank;

        // Counts per (expert, source) first: they fix each source's block inside an expert.
        var counts = new int[numLocalExperts * numRanks];
        for (int s = 0; s < numRanks; s++)
        {
            if (!maskedRanks[s])
            {
                foreach (Message message in Messages(received[s]!, s, geometry))
                {
                    counts[(message.LocalExpert * numRanks) + s]++;
                }
            }
        }
        var cursors = new int[numLocalExperts * numRanks];
        for (int e = 0; e < numLocalExperts; e++)
        {
            int begin = 0;
            for (int s = 0; s < numRanks; s++)
            {
                int count = counts[(e * numRanks) + s];
                cursors[(e * numRanks) + s] = begin;
                layoutRange.At<long>(e, s) = ((long)begin << 32) | (uint)count;
                begin += count;
            }
            if (begin > rows)
            {
                throw new InvalidOperationException($"Local expert {e} receives {begin} rows but holds only R*N = {rows}.");
            }
            packedRecvCount.At<int>(e) = begin;
            if (request.CumulativeLocalExpertRecvStats is { } stats)
            {
                stats.At<int>(e) += begin;
            }
        }

        for (int s = 0; s < numRanks; s++)
        {
            if (maskedRanks[s])
            {
                continue;
            }
            foreach (Message message in Messages(received[s]!, s, geometry))
            {
                int e = message.LocalExpert;
                int row = cursors[(e * numRanks) + s]++;
                srcInfo.At<int>(e, row) = message.SourceToken;
                ReadOnlySpan<byte> payload = received[s]!.AsSpan(message.PayloadOffset, geometry.PayloadBytes);
                if (!request.UseFp8)
                {
                    payload.CopyTo(MemoryMarshal.AsBytes(HostTensorAccess.Row<BFloat16>(packedRecvX, e, row)));
                    continue;
                }
                payload[..geometry.Hidden].CopyTo(MemoryMarshal.AsBytes(HostTensorAccess.Row<Float8E4M3>(packedRecvX, e, row)));
                ReadOnlySpan<float> scaleInv = MemoryMarshal.Cast<byte, float>(payload[geometry.Hidden..]);
                for (int g = 0; g < geometry.NumScales; g++)
                {
                    if (!request.UseUe8m0)
                    {
                        packedRecvXScales!.At<float>(e, row, g) = scaleInv[g];
                    }
                    else if (g % Fp8Cast.ScalesPerUe8m0Word == 0)
                    {
                        packedRecvXScales!.At<int>(e, row, g / Fp8Cast.ScalesPerUe8m0Word) = PackUe8m0(scaleInv.Slice(g, Fp8Cast.ScalesPerUe8m0Word));
                    }
                }
            }
        }
    }

    // Byte i of the word is the exponent byte of scale group 4w + i (little-endian packing).
    private static int PackUe8m0(ReadOnlySpan<float> scales)
    {
        int word = 0;
        for (int i = 0; i < scales.Length; i++)
        {
            word |= Fp8Cast.Ue8m0Byte(scales[i]) << (8 * i);
        }
        return word;
    }

    private static IEnumerable<Message> Messages(byte[] received, int source, Geometry geometry)
    {
        int count = BinaryPrimitives.ReadInt32LittleEndian(received.AsSpan(HostPeerLiveness.HeaderBytes));
        if (received.Length != MessagesOffset + ((long)count * geometry.MessageBytes))
        {
            throw new InvalidOperationException(
                $"Rank {source} sent {received.Length} bytes for {count} low-latency messages of {geometry.MessageBytes} bytes; the ranks disagree on H or FP8 mode.");
        }
        for (int i = 0; i < count; i++)
        {
            int offset = MessagesOffset + (i * geometry.MessageBytes);
            (int localExpert, int token) = ReadMessageHeader(received.AsSpan(offset, MessageHeaderBytes), source);
            if ((uint)localExpert >= (uint)geometry.NumLocalExperts || (uint)token >= (uint)geometry.MaxTokensPerRank)
            {
                throw new InvalidOperationException($"Rank {source} sent a message for local expert {localExpert}, token {token}; both must be in range.");
            }
            yield return new Message(localExpert, token, offset + MessageHeaderBytes);
        }
    }

    private static (int LocalExpert, int Token) ReadMessageHeader(ReadOnlySpan<byte> header, int source)
    {
        var reader = new HostWireReader(header, source);
        return (reader.ReadInt32(), reader.ReadInt32());
    }

    private readonly record struct Message(int LocalExpert, int SourceToken, int PayloadOffset);

    private readonly record struct Geometry
    {
        public Geometry(int numRanks, LowLatencyDispatchRequest request)
        {
            if (request.NumExperts % numRanks != 0 || request.X.Size(1) % Fp8Cast.ChannelsPerScale != 0)
            {
                throw new InvalidOperationException($"Low-latency dispatch needs E divisible by R and H by 128 (E = {request.NumExperts}, R = {numRanks}, x {request.X.Describe()}).");
            }
            NumRanks = numRanks;
            NumLocalExperts = request.NumExperts / numRanks;
            MaxTokensPerRank = request.NumMaxDispatchTokensPerRank;
            Hidden = checked((int)request.X.Size(1));
            NumScales = Hidden / Fp8Cast.ChannelsPerScale;
            PayloadBytes = request.UseFp8 ? Hidden + (NumScales * sizeof(float)) : Hidden * sizeof(ushort);
        }

        public int NumRanks { get; }

        public int NumLocalExperts { get; }

        public int MaxTokensPerRank { get; }

        public int Hidden { get; }

        public int NumScales { get; }

        public int PayloadBytes { get; }

        public int MessageBytes => MessageHeaderBytes + PayloadBytes;
    }
}
