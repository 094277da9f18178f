using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// Where the rows of an expanded dispatch (<see cref="ExpandedRows"/>) come from, kept by the handle for cached
/// dispatch and combine. All tensors are Int32 on the dispatch's device, computed there (no host synchronisation).
/// </summary>
/// <remarks>
/// Expert e's rows are <c>[start(e), start(e) + NumRecvTokensPerExpert[e])</c> with <c>start(0) = 0</c> and
/// <c>start(e) = PsumNumRecvTokensPerExpert[e - 1]</c>; the rest of its segment, up to
/// <c>PsumNumRecvTokensPerExpert[e]</c>, is padding. V2's handle keeps <c>start(e) + count(e)</c> instead; both
/// tensors are kept here, so either is one subtraction away.
/// </remarks>
public sealed class ExpertExpansion : IDisposable
{
    internal ExpertExpansion(DeviceTensor numRecvTokensPerExpert, DeviceTensor psumNumRecvTokensPerExpert, DeviceTensor srcRowSlot,
        DeviceTensor expandedRowOf, int expertAlignment, bool doZeroPadding)
    {
        NumRecvTokensPerExpert = numRecvTokensPerExpert;
        PsumNumRecvTokensPerExpert = psumNumRecvTokensPerExpert;
        SrcRowSlot = srcRowSlot;
        ExpandedRowOf = expandedRowOf;
        ExpertAlignment = expertAlignment;
        DoZeroPadding = doZeroPadding;
    }

    /// <summary><c>[E_l]</c> rows each local expert received (unaligned).</summary>
    public DeviceTensor NumRecvTokensPerExpert { get; }

    /// <summary><c>[E_l]</c> inclusive prefix sums of the aligned counts: the end of each expert's padded segment.</summary>
    public DeviceTensor PsumNumRecvTokensPerExpert { get; }

    /// <summary><c>[N, 2]</c> per expanded row its received row and top-k slot, <c>(-1, -1)</c> for padding.</summary>
    public DeviceTensor SrcRowSlot { get; }

    /// <summary><c>[M, K]</c> per received row and top-k slot its expanded row, -1 where the slot names no local expert.</summary>
    public DeviceTensor ExpandedRowOf { get; }

    /// <summary>The dispatch's <c>expertAlignment</c>.</summary>
    public int ExpertAlignment { get; }

    /// <summary>Whether padding rows are zeroed (cached dispatches with this handle do the same).</summary>
    public bool DoZeroPadding { get; }

    /// <summary>Rows of the expanded layout, N: the aligned total after a host-synchronised dispatch, else the worst case <c>numWorstTokens·K + E_l·(expertAlignment − 1)</c>.</summary>
    public long NumExpandedRows => SrcRowSlot.Size(0);

    /// <summary>Frees the four tensors.</summary>
    public void Dispose()
    {
        NumRecvTokensPerExpert.Dispose();
        PsumNumRecvTokensPerExpert.Dispose();
        SrcRowSlot.Dispose();
        ExpandedRowOf.Dispose();
    }
}
