using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// V2's expanded layout (do_expand, docs/architecture.md): built here, after the backend's normal dispatch, from the
// received rows, so every backend shares one implementation (ExpandedLayout: the CPU on the host backend, the
// expansion kernels on the GPU ones). On a GPU the steps run on the communication stream after the dispatch (or
// before the combine), ordered and finished as the backend orders its own kernels, with no host synchronisation.
public sealed partial class EpBuffer
{
    /// <summary>The argument rules of <c>doExpand</c>/<c>doZeroPadding</c>, checked before anything runs.</summary>
    private static void CheckExpand(bool doExpand, bool doZeroPadding, DeviceTensor? topkIdx, int numLocalExperts, int expertAlignment, int numWorstTokens)
    {
        TensorChecks.That(doExpand || !doZeroPadding, nameof(doZeroPadding), "doZeroPadding only applies to the expanded layout; pass doExpand: true as well, or leave doZeroPadding false.");
        if (!doExpand)
        {
            return;
        }
        TensorChecks.That(topkIdx is not null, nameof(doExpand), "doExpand: true groups rows by the local experts their top-k selects; pass topkIdx and topkWeights.");
        long worst = WorstCaseExpandedRows(numWorstTokens, topkIdx!.Size(1), numLocalExperts, expertAlignment);
        TensorChecks.That(worst <= int.MaxValue, numWorstTokens > 0 ? nameof(numWorstTokens) : nameof(expertAlignment),
            $"The expanded layout could need {worst} rows (numWorstTokens·K + E_l·(expertAlignment − 1)); at most {int.MaxValue} are supported. Lower numWorstTokens or expertAlignment.");
    }

    // Without host synchronisation every received row may select K local experts and every segment may be padded.
    private static long WorstCaseExpandedRows(int numWorstTokens, long topk, int numLocalExperts, int expertAlignment) =>
        (numWorstTokens * topk) + ((long)numLocalExperts * (expertAlignment - 1));

    /// <summary>Adds the expanded layout to a dispatch's result: a new one (<paramref name="cached"/> null) or a cached dispatch's, placed as before.</summary>
    private DispatchResult Expand(DispatchResult plain, ExpertExpansion? cached, int numLocalExperts, int expertAlignment, int numWorstTokens, bool doZeroPadding,
        StreamOptions streams)
    {
        CudaStream? comm = _backend.CommStream;
        using CommStreamOrder? order = comm is null ? null : new CommStreamOrder(comm);
        CudaStream? compute = order?.ComputeStream(streams);
        CudaStream? outputs = compute is null ? null : order!.OutputStream(streams, compute);
        ExpertExpansion expansion = cached ?? NewExpansion(plain, numLocalExperts, expertAlignment, numWorstTokens, doZeroPadding, outputs);
        long capacity = expansion.NumExpandedRows;
        var expanded = new ExpandedRows(
            DeviceTensor.Empty(plain.RecvX.DType, [capacity, plain.RecvX.Size(1)], Device, outputs),
            plain.RecvXScales is { } scales ? DeviceTensor.Empty(scales.DType, [capacity, scales.Size(1)], Device, outputs) : null,
            plain.RecvTopkWeights is null ? null : DeviceTensor.Empty(DType.Float32, [capacity], Device, outputs));
        order?.Begin(streams, compute);
        if (cached is null)
        {
            ExpandedLayout.Place(plain.RecvTopkIdx!, expansion, comm);
        }
        ExpandedLayout.Copy(plain.RecvX, plain.RecvXScales, plain.RecvTopkWeights, expansion, expanded, comm);
        EventOverlap done = order is null ? plain.Event : order.Finish(streams, compute!, [.. plain.Event.ExtraTensors, plain.RecvX, expanded.X]);
        DispatchHandle? handle = cached is null ? plain.Handle! with { Expansion = expansion } : plain.Handle;
        return plain with { Handle = handle, Expanded = expanded, Event = done };
    }

    private ExpertExpansion NewExpansion(DispatchResult plain, int numLocalExperts, int expertAlignment, int numWorstTokens, bool doZeroPadding, CudaStream? stream)
    {
        long rows = plain.RecvX.Size(0), topk = plain.RecvTopkIdx!.Size(1);
        // After a host-synchronised dispatch the aligned per-expert counts are on the host already: the exact total.
        long capacity = numWorstTokens > 0
            ? WorstCaseExpandedRows(numWorstTokens, topk, numLocalExperts, expertAlignment)
            : plain.NumRecvTokensPerExpertList.Sum(count => (long)count);
        return new ExpertExpansion(
            DeviceTensor.Empty(DType.Int32, [numLocalExperts], Device, stream),
            DeviceTensor.Empty(DType.Int32, [numLocalExperts], Device, stream),
            DeviceTensor.Empty(DType.Int32, [checked((int)capacity), 2], Device, stream),
            DeviceTensor.Empty(DType.Int32, [rows, topk], Device, stream),
            expertAlignment,
            doZeroPadding);
    }

    /// <summary>Combine of expanded rows: each received row's copies summed (unweighted, as V2), then the normal combine.</summary>
    private CombineResult CombineExpanded(DeviceTensor x, DispatchHandle handle, ExpertExpansion expansion, DeviceTensor? topkWeights, DeviceTensor? bias0,
        DeviceTensor? bias1, EpConfig config, StreamOptions streams)
    {
        CudaStream? comm = _backend.CommStream;
        using CommStreamOrder? order = comm is null ? null : new CommStreamOrder(comm);
        CudaStream? compute = order?.ComputeStream(streams);
        // Temporaries on the communication stream: freed in its order, after the combine that reads them.
        using DeviceTensor reduced = DeviceTensor.Empty(DType.BFloat16, [handle.NumRecvTokens, x.Size(1)], Device, comm);
        using DeviceTensor? folded = topkWeights is null ? null : DeviceTensor.Empty(DType.Float32, [handle.NumRecvTokens, expansion.ExpandedRowOf.Size(1)], Device, comm);
        order?.Begin(streams, compute);
        ExpandedLayout.Reduce(x, topkWeights, expansion, reduced, folded, comm);
        return _backend.Combine(new NormalCombineRequest(reduced, handle, folded, bias0, bias1, config, streams));
    }

    /// <summary>Combine's argument rules for a handle of an expanded dispatch.</summary>
    private void CheckExpandedCombine(DeviceTensor? x, ExpertExpansion expansion, DeviceTensor? topkWeights)
    {
        long rows = expansion.NumExpandedRows;
        TensorChecks.That(x is not null && x.DType == DType.BFloat16, nameof(x), $"Combine takes BF16 only (FP8 is dispatch-only); got {x?.Describe() ?? "null"}.");
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [rows, TensorChecks.AnySize]);
        if (topkWeights is not null)
        {
            TensorChecks.That(topkWeights.Rank == 1, nameof(topkWeights),
                $"The handle is of an expanded dispatch: topkWeights is one Float32 weight per expanded row, [{rows}] (ExpandedRows.TopkWeights); got {topkWeights.Describe()}.");
            TensorChecks.Require(topkWeights, nameof(topkWeights), DType.Float32, Device, [rows]);
        }
    }
}
