using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>DeepEP's <c>Buffer</c> (work in progress).</summary>
public sealed class EpBuffer
{
    /// <summary>Spec §1.</summary>
    public DispatchLayout GetDispatchLayout(DeviceTensor topkIdx, int numExperts) => throw new NotImplementedException();

    /// <summary>Spec §2.</summary>
    public DispatchResult Dispatch(DeviceTensor x) => throw new NotImplementedException();

    /// <summary>Spec §3.</summary>
    public CombineResult Combine(DeviceTensor x) => throw new NotImplementedException();

    /// <summary>Spec §5.3.</summary>
    public LowLatencyDispatchResult LowLatencyDispatch(DeviceTensor x) => throw new NotImplementedException();

    /// <summary>Spec §5.4.</summary>
    public LowLatencyCombineResult LowLatencyCombine(DeviceTensor x) => throw new NotImplementedException();
}
