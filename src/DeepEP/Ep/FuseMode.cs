namespace DeepEP.Ep;

/// <summary>How <see cref="EpBuffer.FusedDeepMoe"/> schedules dispatch, expert FFN and combine (DeepEP-Ascend's <c>FuseMode</c>).</summary>
/// <remarks>Both modes compute the same result; the host backend runs both as the three stages back to back.</remarks>
public enum FuseMode
{
    /// <summary>One pipeline: experts start on the rows that have arrived and results leave as soon as they are ready (<c>FUSED_DEEP_MOE</c>).</summary>
    FusedDeepMoe,

    /// <summary>Low-latency dispatch, the experts' FFN and low-latency combine back to back (<c>DISPATCH_FFN_COMBINE</c>; also the baseline).</summary>
    DispatchFfnCombine,
}
