using System.Runtime.InteropServices;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §5.4: low-latency combine. Every packed row goes back to its source rank, into the slot
// (global expert, source token); the source then reduces its top-k slots in order with FMA,
// acc = fma(value, weight, acc), skipping -1 slots and masked owners, and rounds to BF16 once.
// With useLogfmt each row travels as a LogFMT-10 message and the reduction reads its decoded values.
internal static class HostLowLatencyCombine
{
    // A message is: local expert, source token, the row's byte count, then the BF16 row or its LogFMT-10 message.
    private const int MessageHeaderBytes = 3 * sizeof(int);

    public static LowLatencyCombineResult Combine(HostExchange group, LowLatencyCombineRequest request, LowLatencyCombineBuffers buffers, bool[] maskedRanks)
    {
        LowLatencyHandle handle = request.Handle;
        int numRanks = group.Size;
        int numLocalExperts = handle.NumExperts / numRanks;
        int numRows = numRanks * handle.NumMaxDispatchTokensPerRank;
        int hidden = handle.Hidden;
        int set = buffers.Acquire("LowLatencyCombine");
        DeviceTensor expertOutputs = request.ZeroCopy ? buffers.CombineSendBuffer(set, numLocalExperts, numRows, hidden) : request.X;
        if (expertOutputs.DType != DType.BFloat16 || !expertOutputs.Shape.SequenceEqual([numLocalExperts, numRows, hidden]))
        {
            throw new InvalidOperationException($"Low-latency combine reads BF16 [E_l, R*N, H] = [{numLocalExperts}, {numRows}, {hidden}] expert outputs, not {expertOutputs.Describe()}.");
        }
        byte[]?[] received = group.LowLatencyAllToAll(ReturnRows(expertOutputs, handle, numRanks, maskedRanks, request.UseLogfmt), maskedRanks);

        long[] topkIdx = HostTensorAccess.ReadIndices(request.TopkIdx);
        float[] topkWeights = request.TopkWeights.ToArray<float>();
        int numTokens = checked((int)request.TopkIdx.Size(0));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        DeviceTensor combinedX = request.Out ?? DeviceTensor.Empty(DType.BFloat16, [numTokens, hidden]);
        var maskSnapshot = (bool[])maskedRanks.Clone();
        void Receive() => Reduce(received, maskSnapshot, handle, topkIdx, topkWeights, numTokens, numTopk, combinedX, request.UseLogfmt);

        Action? hook = request.ReturnRecvHook ? buffers.DeferReceive(set, Receive) : null;
        if (hook is null)
        {
            Receive();
        }
        return new LowLatencyCombineResult(combinedX, EventOverlap.None, hook);
    }

    // For each unmasked destination d and local expert e, the rows layout_range[e][d] of the expert outputs.
    private static ReadOnlyMemory<byte>[] ReturnRows(DeviceTensor expertOutputs, LowLatencyHandle handle, int numRanks, bool[] maskedRanks, bool logfmt)
    {
        int numLocalExperts = checked((int)expertOutputs.Size(0));
        var messages = new ReadOnlyMemory<byte>[numRanks];
        for (int d = 0; d < numRanks; d++)
        {
            var rows = new List<(int LocalExpert, int Token, byte[] Bytes)>();
            for (int e = 0; e < (maskedRanks[d] ? 0 : numLocalExperts); e++)
            {
                (int begin, int rowCount) = LayoutRange(handle, e, d);
                for (int row = begin; row < begin + rowCount; row++)
                {
                    ReadOnlySpan<BFloat16> values = HostTensorAccess.Row<BFloat16>(expertOutputs, e, row);
                    rows.Add((e, handle.PackedRecvSrcInfo.At<int>(e, row), logfmt ? LogFmt10.Encode(values) : MemoryMarshal.AsBytes(values).ToArray()));
                }
            }
            var writer = new HostWireWriter(checked(HostPeerLiveness.HeaderBytes + sizeof(int) + rows.Sum(r => MessageHeaderBytes + r.Bytes.Length)));
            HostPeerLiveness.WriteHeader(writer, maskedRanks[d]);
            writer.WriteInt32(rows.Count);
            foreach ((int localExpert, int token, byte[] bytes) in rows)
            {
                writer.WriteInt32(localExpert);
                writer.WriteInt32(token);
                writer.WriteInt32(bytes.Length);
                writer.WriteBytes(bytes);
            }
            messages[d] = writer.Written;
        }
        return messages;
    }

    private static (int Begin, int Count) LayoutRange(LowLatencyHandle handle, int localExpert, int rank)
    {
        long packed = handle.PackedRecvLayoutRange.At<long>(localExpert, rank);
        return ((int)(packed >> 32), (int)(packed & 0xFFFFFFFF));
    }

    private static void Reduce(byte[]?[] received, bool[] maskedRanks, LowLatencyHandle handle, long[] topkIdx, float[] topkWeights, int numTokens, int numTopk, DeviceTensor combinedX,
        bool logfmt)
    {
        int numRanks = received.Length;
        int numExperts = handle.NumExperts;
        int numLocalExperts = numExperts / numRanks;
        int maxTokens = handle.NumMaxDispatchTokensPerRank;
        int hidden = handle.Hidden;
        int rowBytes = hidden * sizeof(ushort);

        // The receive buffer [E][N]: where in which message the row for (global expert, token) sits, and its size.
        var slotSource = new int[numExperts * maxTokens];
        var slotOffset = new int[numExperts * maxTokens];
        var slotBytes = new int[numExperts * maxTokens];
        slotSource.AsSpan().Fill(-1);
        for (int s = 0; s < numRanks; s++)
        {
            if (maskedRanks[s])
            {
                continue;
            }
            var reader = new HostWireReader(received[s]!, s);
            reader.ReadBytes(HostPeerLiveness.HeaderBytes);
            int count = reader.ReadInt32();
            int offset = HostPeerLiveness.HeaderBytes + sizeof(int);
            for (int i = 0; i < count; i++)
            {
                int localExpert = reader.ReadInt32();
                int token = reader.ReadInt32();
                int bytes = reader.ReadInt32();
                if ((uint)localExpert >= (uint)numLocalExperts || (uint)token >= (uint)maxTokens || (!logfmt && bytes != rowBytes))
                {
                    throw new InvalidOperationException($"Rank {s} returned a row of {bytes} bytes for local expert {localExpert}, token {token}; the expert and token must be in range and a BF16 row is {rowBytes} bytes.");
                }
                int slot = (((s * numLocalExperts) + localExpert) * maxTokens) + token;
                slotSource[slot] = s;
                slotOffset[slot] = offset + MessageHeaderBytes;
                slotBytes[slot] = bytes;
                reader.ReadBytes(bytes);
                offset += MessageHeaderBytes + bytes;
            }
            reader.ExpectEnd();
        }

        var acc = new float[hidden];
        var decoded = new float[hidden];
        for (int t = 0; t < numTokens; t++)
        {
            acc.AsSpan().Clear();
            for (int k = 0; k < numTopk; k++)
            {
                long expert = topkIdx[(t * numTopk) + k];
                if (expert < 0 || expert >= numExperts || maskedRanks[expert / numLocalExperts])
                {
                    continue;
                }
                int slot = ((int)expert * maxTokens) + t;
                if (slotSource[slot] < 0)
                {
                    throw new InvalidOperationException(
                        $"Token {t} selected expert {expert}, but its owner returned no row for it; topk_idx or the handle does not match the dispatch.");
                }
                ReadOnlySpan<byte> row = received[slotSource[slot]]!.AsSpan(slotOffset[slot], slotBytes[slot]);
                if (logfmt)
                {
                    LogFmt10.Decode(row, decoded);
                }
                else
                {
                    ReadOnlySpan<BFloat16> values = MemoryMarshal.Cast<byte, BFloat16>(row);
                    for (int h = 0; h < hidden; h++)
                    {
                        decoded[h] = values[h].ToFloat();
                    }
                }
                float weight = topkWeights[(t * numTopk) + k];
                for (int h = 0; h < hidden; h++)
                {
                    acc[h] = MathF.FusedMultiplyAdd(decoded[h], weight, acc[h]);
                }
            }
            Span<BFloat16> output = HostTensorAccess.Row<BFloat16>(combinedX, t);
            for (int h = 0; h < hidden; h++)
            {
                output[h] = BFloat16.FromFloat(acc[h]);
            }
        }
    }
}
