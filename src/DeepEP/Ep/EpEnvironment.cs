using DeepEP.Configuration;
using DeepEP.Distributed;

namespace DeepEP.Ep;

/// <summary>
/// Every environment variable the library reads, as typed properties (documented in <c>docs/environment.md</c>):
/// the public face of the knobs every layer reads. Values are captured when the instance is created;
/// parsing happens when a property is read, so a bad value fails where it is used, with a message naming it.
/// </summary>
public sealed class EpEnvironment
{
    /// <summary><c>DEEPEP_BACKEND</c>: <c>kernels</c>, <c>nccl</c> or <c>host</c>.</summary>
    public const string BackendVariable = EnvironmentKnobs.BackendVariable;

    /// <summary><c>DEEP_USE_MODE</c>: DeepEP-Ascend's alias, <c>default</c> (= kernels) or <c>alltoall</c> (= nccl); its <c>ops</c>
    /// (aclnn operator kernels) has no NVIDIA equivalent and is refused. When set with <c>DEEPEP_BACKEND</c>, the two must agree.</summary>
    public const string UseModeVariable = EnvironmentKnobs.UseModeVariable;

    /// <summary><c>DEEPEP_CUDA_LIBRARY</c>: path of <c>libcuda.so.1</c> to try first.</summary>
    public const string CudaLibraryVariable = EnvironmentKnobs.CudaLibraryVariable;

    /// <summary><c>DEEPEP_NVRTC_LIBRARY</c>: path of <c>libnvrtc.so.*</c> to try first.</summary>
    public const string NvrtcLibraryVariable = EnvironmentKnobs.NvrtcLibraryVariable;

    /// <summary><c>DEEPEP_NCCL_LIBRARY</c>: path of <c>libnccl.so.2</c> to try first.</summary>
    public const string NcclLibraryVariable = EnvironmentKnobs.NcclLibraryVariable;

    /// <summary><c>DEEPEP_CACHE_DIR</c>: kernel cache folder (default <c>~/.cache/deepep</c>).</summary>
    public const string CacheDirectoryVariable = EnvironmentKnobs.CacheDirectoryVariable;

    /// <summary><c>DEEPEP_TIMEOUT_S</c>: seconds before a spin-wait or collective gives up (default 100).</summary>
    public const string TimeoutVariable = EnvironmentKnobs.TimeoutVariable;

    /// <summary><c>CUDA_HOME</c>: the CUDA toolkit folder (libraries in <c>lib64</c>, headers in <c>include</c>).</summary>
    public const string CudaHomeVariable = EnvironmentKnobs.CudaHomeVariable;

    /// <summary><c>MOE_EXPERT_TOKEN_NUMS_TYPE</c> (DeepEP-Ascend): <c>1</c> per-expert counts (default), <c>0</c> their inclusive prefix sums.</summary>
    public const string ExpertTokenNumsTypeVariable = EnvironmentKnobs.ExpertTokenNumsTypeVariable;

    /// <summary><c>SGLANG_DEEPEP_BF16_DISPATCH</c>: <c>1</c> makes low-latency dispatch send BF16 even when FP8 is asked; <c>0</c> (default) does not.</summary>
    public const string Bf16DispatchVariable = EnvironmentKnobs.Bf16DispatchVariable;

    /// <summary><c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c> (DeepEP-Ascend): <c>1</c> quantises BF16 rows to INT8 inside normal dispatch.</summary>
    public const string NormalInt8QuantVariable = EnvironmentKnobs.NormalInt8QuantVariable;

    /// <summary><c>DEBUG_MODE</c> (DeepEP-Ascend): <c>ON</c> logs every buffer operation at Debug level; <c>OFF</c> (default) does not.</summary>
    public const string DebugModeVariable = EnvironmentKnobs.DebugModeVariable;

    /// <summary><c>MOE_SHARED_EXPERT_RANK_NUM</c> (DeepEP-Ascend): how many leading ranks hold a shared-expert replica in low-latency mode (default 0).</summary>
    public const string SharedExpertRankNumVariable = EnvironmentKnobs.SharedExpertRankNumVariable;

    /// <summary>Largest <c>DEEPEP_TIMEOUT_S</c>: what host waits accept (<see cref="int.MaxValue"/> milliseconds).</summary>
    public const int MaxTimeoutSeconds = Timeouts.MaxSeconds;

    /// <summary>The timeout used when <c>DEEPEP_TIMEOUT_S</c> is unset.</summary>
    public static readonly TimeSpan DefaultTimeout = Timeouts.Default;

    // The library's variables come from the one process-wide capture every layer reads; the rank variables are captured with it.
    private static readonly Lazy<EpEnvironment> s_current =
        new(() => new EpEnvironment(EnvironmentKnobs.Current, EnvironmentKnobs.FromProcess(DistributedEnvironment.VariableNames)));

    private readonly EnvironmentKnobs _ranks;

    private EpEnvironment(EnvironmentKnobs knobs, EnvironmentKnobs ranks)
    {
        Knobs = knobs;
        _ranks = ranks;
    }

    /// <summary>The process environment, captured at first use.</summary>
    public static EpEnvironment Current => s_current.Value;

    /// <summary>The captured values, as the layers below read them.</summary>
    internal EnvironmentKnobs Knobs { get; }

    /// <summary>Captures the library's variables from the process environment now.</summary>
    public static EpEnvironment FromProcess()
    {
        var knobs = EnvironmentKnobs.FromProcess(DistributedEnvironment.VariableNames);
        return new EpEnvironment(knobs, knobs);
    }

    /// <summary>An environment made of <paramref name="variables"/> only (tests, embedding hosts); empty values count as unset.</summary>
    public static EpEnvironment FromVariables(IReadOnlyDictionary<string, string> variables)
    {
        var knobs = EnvironmentKnobs.FromVariables(variables);
        return new EpEnvironment(knobs, knobs);
    }

    /// <summary>The torchrun-style rank variables (RANK, WORLD_SIZE, …) as captured, for <see cref="DistributedEnvironment"/>.</summary>
    public IReadOnlyDictionary<string, string?> DistributedVariables => _ranks.Select(DistributedEnvironment.VariableNames);

    /// <summary>
    /// The backend chosen by <c>DEEPEP_BACKEND</c> (or its alias <c>DEEP_USE_MODE</c>); null when neither is set.
    /// When both are set they must name the same backend: <c>kernels</c> with <c>default</c>, <c>nccl</c> with <c>alltoall</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A value is not one of the valid names, <c>DEEP_USE_MODE</c> is
    /// DeepEP-Ascend's <c>ops</c> (aclnn operator kernels, which have no NVIDIA equivalent), or the two variables disagree;
    /// the message lists the valid values or pairs.</exception>
    public EpBackendKind? Backend
    {
        get
        {
            EpBackendKind? backend = Knobs.Get(BackendVariable) is { } name ? ParseBackend(name) : null;
            EpBackendKind? mode = Knobs.Get(UseModeVariable) is { } value ? ParseUseMode(value) : null;
            if (backend is { } b && mode is { } m && b != m)
            {
                throw new InvalidOperationException(
                    $"{BackendVariable}='{Knobs.Get(BackendVariable)}' and {UseModeVariable}='{Knobs.Get(UseModeVariable)}' disagree; " +
                    $"valid pairs: {BackendVariable}=kernels with {UseModeVariable}=default, {BackendVariable}=nccl with {UseModeVariable}=alltoall " +
                    $"({BackendVariable}=host has no {UseModeVariable} value). Unset one of them.");
            }
            return backend ?? mode;
        }
    }

    private static EpBackendKind ParseBackend(string backend) => backend.ToLowerInvariant() switch
    {
        "kernels" => EpBackendKind.Kernels,
        "nccl" => EpBackendKind.Nccl,
        "host" => EpBackendKind.Host,
        _ => throw new InvalidOperationException($"{BackendVariable}='{backend}' is not a backend; valid values: kernels, nccl, host."),
    };

    private static EpBackendKind ParseUseMode(string mode) => mode.ToLowerInvariant() switch
    {
        "default" => EpBackendKind.Kernels,
        "alltoall" => EpBackendKind.Nccl,
        "ops" => throw new InvalidOperationException(
            $"{UseModeVariable}='{mode}' is not supported: DeepEP-Ascend's ops mode selects aclnn operator kernels, which have no " +
            $"NVIDIA equivalent. Valid values: default ({BackendVariable}=kernels), alltoall ({BackendVariable}=nccl); " +
            $"or set {BackendVariable} to kernels, nccl or host."),
        _ => throw new InvalidOperationException($"{UseModeVariable}='{mode}' is not a mode; valid values: default ({BackendVariable}=kernels), alltoall ({BackendVariable}=nccl). Or set {BackendVariable} to kernels, nccl or host."),
    };

    /// <summary><c>DEEPEP_CUDA_LIBRARY</c>, or null.</summary>
    public string? CudaLibrary => Knobs.CudaLibrary;

    /// <summary><c>DEEPEP_NVRTC_LIBRARY</c>, or null.</summary>
    public string? NvrtcLibrary => Knobs.NvrtcLibrary;

    /// <summary><c>DEEPEP_NCCL_LIBRARY</c>, or null.</summary>
    public string? NcclLibrary => Knobs.NcclLibrary;

    /// <summary><c>CUDA_HOME</c>, or null.</summary>
    public string? CudaHome => Knobs.CudaHome;

    /// <summary>The kernel cache folder: <c>DEEPEP_CACHE_DIR</c>, else <c>~/.cache/deepep</c>; a leading <c>~</c> is expanded.</summary>
    public string CacheDirectory => Knobs.CacheDirectory;

    /// <summary>
    /// How long spin-waits and collectives wait: <c>DEEPEP_TIMEOUT_S</c> seconds (a number in (0, <see cref="MaxTimeoutSeconds"/>]), else 100 s.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not a number of seconds in that range; the message names the variable.</exception>
    public TimeSpan Timeout => Knobs.Timeout;

    /// <summary>
    /// <c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>: <see cref="ExpertTokenNumsType.PrefixSums"/> for <c>0</c>, <see cref="ExpertTokenNumsType.Counts"/>
    /// for <c>1</c>, null when unset. It shapes the normal-mode <see cref="DispatchResult.NumRecvTokensPerExpertList"/> and the
    /// low-latency <see cref="LowLatencyDispatchResult.PackedRecvCount"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public ExpertTokenNumsType? ExpertTokenNumsType => Knobs.ExpertTokenNumsCumulative switch
    {
        null => null,
        true => Ep.ExpertTokenNumsType.PrefixSums,
        false => Ep.ExpertTokenNumsType.Counts,
    };

    /// <summary><c>SGLANG_DEEPEP_BF16_DISPATCH</c>: true for <c>1</c>, false for <c>0</c>, null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? Bf16Dispatch => Knobs.Bf16Dispatch;

    /// <summary><c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c>: true for <c>1</c>, false for <c>0</c>, null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? NormalInt8Quant => Knobs.NormalInt8Quant;

    /// <summary><c>DEBUG_MODE</c>: true for <c>ON</c>, false for <c>OFF</c> (case-insensitive), null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? DebugMode => Knobs.DebugMode;

    /// <summary><c>MOE_SHARED_EXPERT_RANK_NUM</c>: a non-negative integer, null when unset; <see cref="EpBuffer"/> also requires it below the group size.</summary>
    /// <exception cref="InvalidOperationException">Not a non-negative integer; the message names the variable and the valid values.</exception>
    public int? SharedExpertRankNum => Knobs.SharedExpertRankNum;

    /// <summary>
    /// The one deadline source of every backend and process group: <paramref name="timeout"/> when given, else
    /// <c>DEEPEP_TIMEOUT_S</c> (read now, from <paramref name="environment"/>, default <see cref="Current"/>), else <see cref="DefaultTimeout"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive or longer than about 24 days.</exception>
    /// <exception cref="InvalidOperationException">The variable is used and invalid.</exception>
    internal static TimeSpan ResolveTimeout(TimeSpan? timeout, string paramName, EpEnvironment? environment = null) =>
        Timeouts.Resolve(timeout, paramName, environment?.Knobs);
}
