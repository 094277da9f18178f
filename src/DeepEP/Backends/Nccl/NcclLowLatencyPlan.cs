using DeepEP.Tensors;

namespace DeepEP.Backends.Nccl;

/// <summary>
/// The host-side plan of one low-latency dispatch over NCCL, and what its combine reuses (kept on the handle). Each
/// rank all-gathers whom it masks and how many of its top-k slots select each expert; a pair of ranks exchanges data
/// only when neither masks the other. Messages to a destination are ordered by (local expert, token, top-k slot), so
/// each expert's block from one source is contiguous and the receiver packs it, sources ascending, in the same order
/// as the host reference. Combine returns the rows in the receive order, so they land at the dispatch's staging
/// positions on the source.
/// </summary>
/// <remarks>
/// The device blob (Int32 words) holds, in order: the layout ranges (<c>[E_l, R]</c> Int64), the count of each local
/// expert, the source token of each sent message (staging order), the staging position of each (token, slot) or -1,
/// and the packed row (<c>e * R*N + j</c>) of each received message (receive order).
/// </remarks>
internal sealed class NcclLowLatencyPlan : IDisposable
{
    private NcclLowLatencyPlan(int numRanks, int numLocalExperts, int rowsPerExpert)
    {
        NumRanks = numRanks;
        NumLocalExperts = numLocalExperts;
        RowsPerExpert = rowsPerExpert;
        SendCounts = new long[numRanks];
        SendOffsets = new long[numRanks];
        RecvCounts = new long[numRanks];
        RecvOffsets = new long[numRanks];
    }

    public int NumRanks { get; }

    public int NumLocalExperts { get; }

    /// <summary>R*N, the rows of one local expert's packed block.</summary>
    public int RowsPerExpert { get; }

    /// <summary>Messages sent to each rank (the rows it returns at combine).</summary>
    public long[] SendCounts { get; }

    /// <summary>Where each destination's messages start in the staging order.</summary>
    public long[] SendOffsets { get; }

    /// <summary>Messages received from each rank (the rows returned to it at combine).</summary>
    public long[] RecvCounts { get; }

    /// <summary>Where each source's messages start in the receive order.</summary>
    public long[] RecvOffsets { get; }

    public int TotalSent { get; private set; }

    public int TotalReceived { get; private set; }

    /// <summary>The words uploaded to the device (see the remarks).</summary>
    public int[] Blob { get; private set; } = [];

    public int CountsOffset => 2 * NumLocalExperts * NumRanks;

    public int TokensOffset => CountsOffset + NumLocalExperts;

    public int SlotsOffset => TokensOffset + TotalSent;

    public int RecvRowsOffset { get; private set; }

    /// <summary>The uploaded blob, owned by this plan.</summary>
    public DeviceTensor? DeviceBlob { get; set; }

    /// <summary>This rank's part of the exchange: 1 for each rank it masks, then its top-k slots per global expert.</summary>
    public static int[] ExchangeRecord(ReadOnlySpan<long> topkIdx, int numExperts, bool[] maskedRanks)
    {
        var record = new int[maskedRanks.Length + numExperts];
        for (int d = 0; d < maskedRanks.Length; d++)
        {
            record[d] = maskedRanks[d] ? 1 : 0;
        }
        foreach (long expert in topkIdx)
        {
            if (expert >= 0 && expert < numExperts)
            {
                record[maskedRanks.Length + (int)expert]++;
            }
        }
        return record;
    }

    /// <summary>
    /// Masks every peer that masks this rank (as the GPU's receive timeout would), then plans the transfers. Throws
    /// when a local expert would receive more than R*N rows.
    /// </summary>
    public static NcclLowLatencyPlan Build(ReadOnlySpan<long> topkIdx, int numTopk, int rank, int numExperts, int maxTokens, int[][] records, bool[] maskedRanks)
    {
        int numRanks = records.Length;
        int localExperts = numExperts / numRanks;
        MergeMasks(rank, records, maskedRanks);
        var plan = new NcclLowLatencyPlan(numRanks, localExperts, numRanks * maxTokens);

        // Received counts: per local expert, sources ascending.
        var layout = new long[localExperts * numRanks];
        var counts = new int[localExperts];
        for (int e = 0; e < localExperts; e++)
        {
            int begin = 0;
            for (int s = 0; s < numRanks; s++)
            {
                int count = maskedRanks[s] ? 0 : records[s][numRanks + (rank * localExperts) + e];
                layout[(e * numRanks) + s] = ((long)begin << 32) | (uint)count;
                begin += count;
                plan.RecvCounts[s] += count;
            }
            if (begin > plan.RowsPerExpert)
            {
                throw new InvalidOperationException($"Local expert {e} receives {begin} rows but holds only R*N = {plan.RowsPerExpert}.");
            }
            counts[e] = begin;
        }

        // Sent messages: the (token, slot) indices of each global expert in order, destinations and experts ascending.
        int numSlots = topkIdx.Length;
        var byExpert = new List<int>[numExperts];
        for (int i = 0; i < numSlots; i++)
        {
            long expert = topkIdx[i];
            if (expert >= 0 && expert < numExperts && !maskedRanks[expert / localExperts])
            {
                (byExpert[expert] ??= []).Add(i);
            }
        }
        long sent = 0;
        for (int d = 0; d < numRanks; d++)
        {
            plan.SendOffsets[d] = sent;
            for (int g = d * localExperts; g < (d + 1) * localExperts; g++)
            {
                sent += byExpert[g]?.Count ?? 0;
            }
            plan.SendCounts[d] = sent - plan.SendOffsets[d];
        }
        long received = 0;
        for (int s = 0; s < numRanks; s++)
        {
            plan.RecvOffsets[s] = received;
            received += plan.RecvCounts[s];
        }
        plan.TotalSent = checked((int)sent);
        plan.TotalReceived = checked((int)received);
        plan.RecvRowsOffset = plan.SlotsOffset + numSlots;

        int[] blob = new int[plan.RecvRowsOffset + plan.TotalReceived];
        System.Runtime.InteropServices.MemoryMarshal.Cast<long, int>(layout.AsSpan()).CopyTo(blob);
        counts.CopyTo(blob, plan.CountsOffset);
        blob.AsSpan(plan.SlotsOffset, numSlots).Fill(-1);
        int message = 0;
        for (int g = 0; g < numExperts; g++)
        {
            foreach (int i in byExpert[g] ?? [])
            {
                blob[plan.TokensOffset + message] = i / numTopk;
                blob[plan.SlotsOffset + i] = message++;
            }
        }
        int next = plan.RecvRowsOffset;
        for (int s = 0; s < numRanks; s++)
        {
            for (int e = 0; e < localExperts; e++)
            {
                long range = layout[(e * numRanks) + s];
                int begin = (int)(range >> 32), count = (int)(range & 0xFFFFFFFF);
                for (int j = 0; j < count; j++)
                {
                    blob[next++] = (e * plan.RowsPerExpert) + begin + j;
                }
            }
        }
        plan.Blob = blob;
        return plan;
    }

    /// <summary>Masks every peer whose record says it masks this rank; both sides of a pair then agree.</summary>
    public static void MergeMasks(int rank, int[][] records, bool[] maskedRanks)
    {
        for (int s = 0; s < records.Length; s++)
        {
            if (records[s][rank] != 0)
            {
                maskedRanks[s] = true;
            }
        }
    }

    public void Dispose() => DeviceBlob?.Dispose();
}
