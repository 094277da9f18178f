using System.Globalization;
using System.Runtime.CompilerServices;

namespace DeepEP.Runtimes;

/// <summary>
/// The sizes of every C# parameter-struct twin, passed to NVRTC as defines so each header's
/// <c>DEEPEP_CHECK_PARAMS_SIZE</c> fails the compile when a twin drifts from its C++ struct.
/// </summary>
internal static class KernelDefines
{
    public static IReadOnlyList<KeyValuePair<string, string>> All { get; } =
    [
        Size<KernelDiagnostics>("DEEPEP_KERNEL_DIAGNOSTICS_SIZE"),
        Size<DispatchLayoutParams>("DEEPEP_DISPATCH_LAYOUT_PARAMS_SIZE"),
        Size<ChannelLayoutParams>("DEEPEP_CHANNEL_LAYOUT_PARAMS_SIZE"),
        new("DEEPEP_COMM_HEADER_SIZE", KernelLimits.CommHeaderBytes.ToString(CultureInfo.InvariantCulture)),
        Size<BarrierParams>("DEEPEP_BARRIER_PARAMS_SIZE"),
        Size<NotifyDispatchParams>("DEEPEP_NOTIFY_DISPATCH_PARAMS_SIZE"),
        Size<IntranodeDispatchParams>("DEEPEP_DISPATCH_PARAMS_SIZE"),
        Size<MarkPaddingParams>("DEEPEP_MARK_PADDING_PARAMS_SIZE"),
        Size<RewriteSendHeadParams>("DEEPEP_REWRITE_SEND_HEAD_PARAMS_SIZE"),
        Size<IntranodeCombineParams>("DEEPEP_COMBINE_PARAMS_SIZE"),
        new("DEEPEP_LOW_LATENCY_CONTROL_SIZE", LowLatencyKernels.ControlBytes.ToString(CultureInfo.InvariantCulture)),
        Size<LowLatencyDispatchParams>("DEEPEP_LOW_LATENCY_DISPATCH_PARAMS_SIZE"),
        Size<LowLatencyCombineParams>("DEEPEP_LOW_LATENCY_COMBINE_PARAMS_SIZE"),
        Size<NcclPackParams>("DEEPEP_NCCL_PACK_PARAMS_SIZE"),
        Size<NcclReduceParams>("DEEPEP_NCCL_REDUCE_PARAMS_SIZE"),
        Size<NcclLowLatencyPackParams>("DEEPEP_NCCL_LL_PACK_PARAMS_SIZE"),
        Size<NcclLowLatencyUnpackParams>("DEEPEP_NCCL_LL_UNPACK_PARAMS_SIZE"),
        Size<NcclLowLatencyGatherParams>("DEEPEP_NCCL_LL_GATHER_PARAMS_SIZE"),
        Size<NcclLowLatencyReduceParams>("DEEPEP_NCCL_LL_REDUCE_PARAMS_SIZE"),
        Size<Fp8CastRuntime.Parameters>("DEEPEP_FP8_CAST_PARAMS_SIZE"),
    ];

    private static KeyValuePair<string, string> Size<T>(string macro)
        where T : unmanaged => new(macro, Unsafe.SizeOf<T>().ToString(CultureInfo.InvariantCulture));
}
