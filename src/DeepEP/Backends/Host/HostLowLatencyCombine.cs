using System.Runtime.InteropServices;
using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

// Spec §5.4: low-latency combine. Every packed row goes back to its source rank, into the slot
// (global expert, source token); the source then reduces its top-k slots in order with FMA,
// acc = fma(value, weight, acc), skipping -1 slots and masked owners, and rounds to BF16 once.
internal static class HostLowLatencyCombine
{
    // A message is: local expert, source token, then the BF16 row.
    private const int MessageHeaderBytes = 2 * sizeof(int);

    public static LowLatencyCombineResult Combine(HostExchange group, LowLatencyCombineRequest request, LowLatencyCombineBuffers buffers, bool[] maskedRanks)
    {
        if (request.UseLogfmt)
        {
            throw new NotSupportedException(
                "The host backend does not emulate LogFMT: its decoding relies on the GPU's approximate ex2/lg2. Combine without useLogfmt, or use the kernels backend.");
        }
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
        byte[]?[] received = group.LowLatencyAllToAll(ReturnRows(expertOutputs, handle, numRanks, maskedRanks), maskedRanks);

        long[] topkIdx = HostTensorAccess.ReadIndices(request.TopkIdx);
        float[] topkWeights = request.TopkWeights.ToArray<float>();
        int numTokens = checked((int)request.TopkIdx.Size(0));
        int numTopk = checked((int)request.TopkIdx.Size(1));
        DeviceTensor combinedX = request.Out ?? DeviceTensor.Empty(DType.BFloat16, [numTokens, hidden]);
        var maskSnapshot = (bool[])maskedRanks.Clone();
        void Receive() => Reduce(received, maskSnapshot, handle, topkIdx, topkWeights, numTokens, numTopk, combinedX);

        Action? hook = request.ReturnRecvHook ? buffers.DeferReceive(set, Receive) : null;
        if (hook is null)
        {
            Receive();
        }
        return new LowLatencyCombineResult(combinedX, EventOverlap.None, hook);
    }

    // For each unmasked destination d and local expert e, the rows layout_range[e][d] of the expert outputs.
    private static ReadOnlyMemory<byte>[] ReturnRows(DeviceTensor expertOutputs, LowLatencyHandle handle, int numRanks, bool[] maskedRanks)
    {
        int numLocalExperts = checked((int)expertOutputs.Size(0));
        int messageBytes = MessageHeaderBytes + (handle.Hidden * sizeof(ushort));
        var messages = new ReadOnlyMemory<byte>[numRanks];
        for (int d = 0; d < numRanks; d++)
        {
            int expertsToSend = maskedRanks[d] ? 0 : numLocalExperts;
            int count = 0;
            for (int e = 0; e < expertsToSend; e++)
            {
                count += LayoutRange(handle, e, d).Count;
            }
            var writer = new HostWireWriter(checked(HostPeerLiveness.HeaderBytes + sizeof(int) + (count * messageBytes)));
            HostPeerLiveness.WriteHeader(writer, maskedRanks[d]);
            writer.WriteInt32(count);
            for (int e = 0; e < expertsToSend; e++)
            {
                (int begin, int rowCount) = LayoutRange(handle, e, d);
                for (int row = begin; row < begin + rowCount; row++)
                {
                    writer.WriteInt32(e);
                    writer.WriteInt32(handle.PackedRecvSrcInfo.At<int>(e, row));
                    writer.WriteBytes(MemoryMarshal.AsBytes(HostTensorAccess.Row<BFloat16>(expertOutputs, e, row)));
                }
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

    private static void Reduce(byte[]?[] received, bool[] maskedRanks, LowLatencyHandle handle, long[] topkIdx, float[] topkWeights, int numTokens, int numTopk, DeviceTensor combinedX)
    {
        int numRanks = received.Length;
        int numExperts = handle.NumExperts;
        int numLocalExperts = numExperts / numRanks;
        int maxTokens = handle.NumMaxDispatchTokensPerRank;
        int hidden = handle.Hidden;
        int rowBytes = hidden * sizeof(ushort);
        int messageBytes = MessageHeaderBytes + rowBytes;

        // The receive buffer [E][N]: where in which message the row for (global expert, token) sits.
        var slotSource = new int[numExperts * maxTokens];
        var slotOffset = new int[numExperts * maxTokens];
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
            int messagesOffset = HostPeerLiveness.HeaderBytes + sizeof(int);
            for (int i = 0; i < count; i++)
            {
                int localExpert = reader.ReadInt32();
                int token = reader.ReadInt32();
                if ((uint)localExpert >= (uint)numLocalExperts || (uint)token >= (uint)maxTokens)
                {
                    throw new InvalidOperationException($"Rank {s} returned a row for local expert {localExpert}, token {token}; both must be in range.");
                }
                int slot = (((s * numLocalExperts) + localExpert) * maxTokens) + token;
                slotSource[slot] = s;
                slotOffset[slot] = messagesOffset + (i * messageBytes) + MessageHeaderBytes;
                reader.ReadBytes(rowBytes);
            }
            reader.ExpectEnd();
        }

        var acc = new float[hidden];
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
                ReadOnlySpan<BFloat16> values = MemoryMarshal.Cast<byte, BFloat16>(received[slotSource[slot]]!.AsSpan(slotOffset[slot], rowBytes));
                float weight = topkWeights[(t * numTopk) + k];
                for (int h = 0; h < hidden; h++)
                {
                    acc[h] = MathF.FusedMultiplyAdd(values[h].ToFloat(), weight, acc[h]);
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
