using DeepEP.Backends.Host;
using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// V2's expanded layout for every backend: host tensors are expanded on the CPU (<see cref="HostExpansion"/>), device
/// tensors by the kernels of <see cref="ExpansionRuntime"/> on <c>stream</c>, with the same bits. Works on the
/// received tensors of a normal dispatch, so it is the same for the kernels and NCCL backends.
/// </summary>
internal static class ExpandedLayout
{
    /// <summary>Fills <paramref name="expansion"/>'s counts, prefix sums and row maps from the received top-k (local ids or -1).</summary>
    public static void Place(DeviceTensor recvTopkIdx, ExpertExpansion expansion, CudaStream? stream)
    {
        if (recvTopkIdx.IsHost)
        {
            HostExpansion.Place(recvTopkIdx, expansion);
            return;
        }
        ExpansionRuntime.Place(recvTopkIdx.Device, stream!, Sizes(expansion) with
        {
            RecvTopkIdx = recvTopkIdx.Pointer,
            Counts = expansion.NumRecvTokensPerExpert.Pointer,
            Psum = expansion.PsumNumRecvTokensPerExpert.Pointer,
            SrcRowSlot = expansion.SrcRowSlot.Pointer,
            ExpandedRowOf = expansion.ExpandedRowOf.Pointer,
            NumLocalExperts = checked((int)expansion.NumRecvTokensPerExpert.Size(0)),
            Alignment = expansion.ExpertAlignment,
        });
    }

    /// <summary>Copies the received rows (and scales, weights) into <paramref name="rows"/> as <paramref name="expansion"/> places them.</summary>
    public static void Copy(DeviceTensor recvX, DeviceTensor? recvXScales, DeviceTensor? recvTopkWeights, ExpertExpansion expansion, ExpandedRows rows, CudaStream? stream)
    {
        if (recvX.IsHost)
        {
            HostExpansion.Copy(recvX, recvXScales, recvTopkWeights, expansion, rows);
            return;
        }
        ExpansionRuntime.Copy(recvX.Device, stream!, Sizes(expansion) with
        {
            RecvTopkWeights = recvTopkWeights?.Pointer ?? 0,
            RecvX = recvX.Pointer,
            RecvXScales = recvXScales?.Pointer ?? 0,
            SrcRowSlot = expansion.SrcRowSlot.Pointer,
            ExpandedX = rows.X.Pointer,
            ExpandedXScales = rows.XScales?.Pointer ?? 0,
            ExpandedWeights = rows.TopkWeights?.Pointer ?? 0,
            RowBytes = recvX.Size(1) * recvX.DType.ElementSize(),
            ScaleBytes = recvXScales is null ? 0 : recvXScales.Size(1) * recvXScales.DType.ElementSize(),
            ZeroPadding = expansion.DoZeroPadding ? 1 : 0,
        });
    }

    /// <summary>Combine's first step: <paramref name="reduced"/> <c>[M, H]</c> gets each received row's expanded copies summed, <paramref name="folded"/> <c>[M, K]</c> the expanded weights.</summary>
    public static void Reduce(DeviceTensor x, DeviceTensor? weights, ExpertExpansion expansion, DeviceTensor reduced, DeviceTensor? folded, CudaStream? stream)
    {
        if (x.IsHost)
        {
            HostExpansion.Reduce(x, weights, expansion, reduced, folded);
            return;
        }
        ExpansionRuntime.Reduce(x.Device, stream!, Sizes(expansion) with
        {
            ExpandedRowOf = expansion.ExpandedRowOf.Pointer,
            ExpandedWeights = weights?.Pointer ?? 0,
            CombineX = x.Pointer,
            ReducedX = reduced.Pointer,
            FoldedWeights = folded?.Pointer ?? 0,
            Hidden = checked((int)x.Size(1)),
        });
    }

    private static ExpansionParams Sizes(ExpertExpansion expansion) => new()
    {
        NumRows = checked((int)expansion.ExpandedRowOf.Size(0)),
        NumTopk = checked((int)expansion.ExpandedRowOf.Size(1)),
        Capacity = checked((int)expansion.NumExpandedRows),
    };
}
