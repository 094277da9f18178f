using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// The kernels backend's LogFMT-10 combine (spec §5.5) against the CPU reference: the sender encodes each row, the
/// receiver decodes it before the top-k FMA reduction, and every rank's combined output (and the dispatch before it)
/// must be the host backend's bit for bit, with a hook and with ranks masked.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class LowLatencyLogFmtTests(GpuFixture gpu)
{
    public static TheoryData<int, string> Cases => GpuRanks.Cross(LowLatencyCases.LogFmt.Keys);

    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(int ranks, string name)
    {
        gpu.Require();
        LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, LowLatencyCases.LogFmt[name]);
    }

    /// <summary>The last rank masks every other rank and they mask it: no deadline is involved, and its slots count as -1.</summary>
    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void AnIsolatedRankIsLeftOutAsInTheReference(int ranks)
    {
        gpu.Require();
        var c = new LowLatencyCase(Tokens: 32, MaxTokens: 32, Hidden: 2048, Experts: 16, Topk: 4, MaskedSlots: 3, UseFp8: false, Hook: true, Seed: 11, UseLogfmt: true);
        LowLatencyComparison.MatchesReference(EpBackendKind.Kernels, ranks, c, Isolate);
    }

    /// <summary>Masks between the last rank and every other rank, from both sides.</summary>
    internal static void Isolate(EpBuffer buffer)
    {
        int isolated = buffer.GroupSize - 1;
        for (int r = 0; r < buffer.GroupSize; r++)
        {
            if (r != buffer.Rank && (buffer.Rank == isolated || r == isolated))
            {
                buffer.LowLatencyUpdateMaskBuffer(r, mask: true);
            }
        }
    }
}
