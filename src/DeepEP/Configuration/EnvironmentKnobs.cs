using System.Globalization;

namespace DeepEP.Configuration;

/// <summary>
/// The environment variables the library reads (documented in <c>docs/environment.md</c>), captured and parsed:
/// the bottom layer every other layer reads its knobs from. Nothing else in the library reads the environment.
/// Values are captured when the instance is created; parsing happens when a property is read, so a bad value
/// fails where it is used, with a message naming it. <c>DeepEP.Ep.EpEnvironment</c> is the public face.
/// </summary>
internal sealed class EnvironmentKnobs
{
    /// <summary><c>DEEPEP_BACKEND</c>: <c>kernels</c>, <c>nccl</c> or <c>host</c>.</summary>
    public const string BackendVariable = "DEEPEP_BACKEND";

    /// <summary><c>DEEP_USE_MODE</c>: DeepEP-Ascend's alias, <c>default</c> (= kernels) or <c>alltoall</c> (= nccl); its <c>ops</c>
    /// (aclnn operator kernels) has no NVIDIA equivalent and is refused. When set with <c>DEEPEP_BACKEND</c>, the two must agree.</summary>
    public const string UseModeVariable = "DEEP_USE_MODE";

    /// <summary><c>DEEPEP_CUDA_LIBRARY</c>: path of <c>libcuda.so.1</c> to try first.</summary>
    public const string CudaLibraryVariable = "DEEPEP_CUDA_LIBRARY";

    /// <summary><c>DEEPEP_NVRTC_LIBRARY</c>: path of <c>libnvrtc.so.*</c> to try first.</summary>
    public const string NvrtcLibraryVariable = "DEEPEP_NVRTC_LIBRARY";

    /// <summary><c>DEEPEP_NCCL_LIBRARY</c>: path of <c>libnccl.so.2</c> to try first.</summary>
    public const string NcclLibraryVariable = "DEEPEP_NCCL_LIBRARY";

    /// <summary><c>DEEPEP_CACHE_DIR</c>: kernel cache folder (default <c>~/.cache/deepep</c>).</summary>
    public const string CacheDirectoryVariable = "DEEPEP_CACHE_DIR";

    /// <summary><c>DEEPEP_TIMEOUT_S</c>: seconds before a spin-wait or collective gives up (default 100).</summary>
    public const string TimeoutVariable = "DEEPEP_TIMEOUT_S";

    /// <summary><c>CUDA_HOME</c>: the CUDA toolkit folder (libraries in <c>lib64</c>, headers in <c>include</c>).</summary>
    public const string CudaHomeVariable = "CUDA_HOME";

    /// <summary><c>MOE_EXPERT_TOKEN_NUMS_TYPE</c> (DeepEP-Ascend): <c>1</c> per-expert counts (default), <c>0</c> their inclusive prefix sums.</summary>
    public const string ExpertTokenNumsTypeVariable = "MOE_EXPERT_TOKEN_NUMS_TYPE";

    /// <summary><c>SGLANG_DEEPEP_BF16_DISPATCH</c>: <c>1</c> makes low-latency dispatch send BF16 even when FP8 is asked; <c>0</c> (default) does not.</summary>
    public const string Bf16DispatchVariable = "SGLANG_DEEPEP_BF16_DISPATCH";

    /// <summary><c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c> (DeepEP-Ascend): <c>1</c> quantises BF16 rows to INT8 inside normal dispatch; <c>0</c> (default) does not.</summary>
    public const string NormalInt8QuantVariable = "DEEP_NORMAL_MODE_USE_INT8_QUANT";

    /// <summary><c>DEBUG_MODE</c> (DeepEP-Ascend): <c>ON</c> logs every buffer operation at Debug level; <c>OFF</c> (default) does not.</summary>
    public const string DebugModeVariable = "DEBUG_MODE";

    /// <summary><c>MOE_SHARED_EXPERT_RANK_NUM</c> (DeepEP-Ascend): how many leading ranks hold a shared-expert replica in low-latency mode (default 0).</summary>
    public const string SharedExpertRankNumVariable = "MOE_SHARED_EXPERT_RANK_NUM";

    /// <summary>The library's own variables; layers above (the rank variables of <c>DistributedEnvironment</c>) name theirs.</summary>
    public static readonly IReadOnlyList<string> LibraryVariables =
    [
        BackendVariable, UseModeVariable, CudaLibraryVariable, NvrtcLibraryVariable, NcclLibraryVariable,
        CacheDirectoryVariable, TimeoutVariable, CudaHomeVariable, ExpertTokenNumsTypeVariable, Bf16DispatchVariable,
        NormalInt8QuantVariable, DebugModeVariable, SharedExpertRankNumVariable,
    ];

    private static readonly Lazy<EnvironmentKnobs> s_current = new(() => FromProcess([]));

    private readonly Dictionary<string, string> _values;

    private EnvironmentKnobs(Dictionary<string, string> values) => _values = values;

    /// <summary>The library's variables in the process environment, captured at first use.</summary>
    public static EnvironmentKnobs Current => s_current.Value;

    /// <summary>Captures the library's variables and <paramref name="otherVariables"/> from the process environment now.</summary>
    public static EnvironmentKnobs FromProcess(IEnumerable<string> otherVariables)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in LibraryVariables.Concat(otherVariables))
        {
            string? value = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrWhiteSpace(value))
            {
                values[name] = value.Trim();
            }
        }
        return new EnvironmentKnobs(values);
    }

    /// <summary>An environment made of <paramref name="variables"/> only (tests, embedding hosts); empty values count as unset.</summary>
    public static EnvironmentKnobs FromVariables(IReadOnlyDictionary<string, string> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, string value) in variables)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                values[name] = value.Trim();
            }
        }
        return new EnvironmentKnobs(values);
    }

    /// <summary>The captured values of <paramref name="names"/>, null where unset.</summary>
    public IReadOnlyDictionary<string, string?> Select(IEnumerable<string> names) => names.ToDictionary(name => name, Get);

    /// <summary><c>DEEPEP_CUDA_LIBRARY</c>, or null.</summary>
    public string? CudaLibrary => Get(CudaLibraryVariable);

    /// <summary><c>DEEPEP_NVRTC_LIBRARY</c>, or null.</summary>
    public string? NvrtcLibrary => Get(NvrtcLibraryVariable);

    /// <summary><c>DEEPEP_NCCL_LIBRARY</c>, or null.</summary>
    public string? NcclLibrary => Get(NcclLibraryVariable);

    /// <summary><c>CUDA_HOME</c>, or null.</summary>
    public string? CudaHome => Get(CudaHomeVariable);

    /// <summary>The kernel cache folder: <c>DEEPEP_CACHE_DIR</c>, else <c>~/.cache/deepep</c>; a leading <c>~</c> is expanded.</summary>
    public string CacheDirectory
    {
        get
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            string? configured = Get(CacheDirectoryVariable);
            if (configured is null)
            {
                return Path.Combine(home, ".cache", "deepep");
            }
            return configured == "~" || configured.StartsWith("~/", StringComparison.Ordinal)
                ? Path.Combine(home, configured.TrimStart('~').TrimStart('/'))
                : Path.GetFullPath(configured);
        }
    }

    /// <summary>
    /// How long spin-waits and collectives wait: <c>DEEPEP_TIMEOUT_S</c> seconds (a number in (0, <see cref="Timeouts.MaxSeconds"/>]), else 100 s.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not a number of seconds in that range; the message names the variable.</exception>
    public TimeSpan Timeout
    {
        get
        {
            string? configured = Get(TimeoutVariable);
            if (configured is null)
            {
                return Timeouts.Default;
            }
            if (!double.TryParse(configured, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0) || seconds > Timeouts.MaxSeconds)
            {
                throw new InvalidOperationException(
                    $"{TimeoutVariable}='{configured}' is not a valid timeout: set it to a number of seconds greater than 0 and at most {Timeouts.MaxSeconds} (about 24 days), or unset it for {Timeouts.Default.TotalSeconds:0} s.");
            }
            return TimeSpan.FromSeconds(seconds);
        }
    }

    /// <summary><c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>: true for prefix sums (<c>0</c>), false for counts (<c>1</c>), null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? ExpertTokenNumsCumulative => Get(ExpertTokenNumsTypeVariable) switch
    {
        null => null,
        "0" => true,
        "1" => false,
        string other => throw Invalid(ExpertTokenNumsTypeVariable, other, "1 (per-expert counts, the default) or 0 (their inclusive prefix sums)"),
    };

    /// <summary><c>SGLANG_DEEPEP_BF16_DISPATCH</c>: true for <c>1</c>, false for <c>0</c>, null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? Bf16Dispatch => Get(Bf16DispatchVariable) switch
    {
        null => null,
        "1" => true,
        "0" => false,
        string other => throw Invalid(Bf16DispatchVariable, other, "1 (low-latency dispatch sends BF16 even when FP8 is asked) or 0 (the default)"),
    };

    /// <summary><c>DEEP_NORMAL_MODE_USE_INT8_QUANT</c>: true for <c>1</c>, false for <c>0</c>, null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? NormalInt8Quant => Get(NormalInt8QuantVariable) switch
    {
        null => null,
        "1" => true,
        "0" => false,
        string other => throw Invalid(NormalInt8QuantVariable, other, "1 (normal dispatch quantises BF16 rows to INT8 with per-token scales) or 0 (the default)"),
    };

    /// <summary><c>DEBUG_MODE</c>: true for <c>ON</c>, false for <c>OFF</c> (case-insensitive), null when unset.</summary>
    /// <exception cref="InvalidOperationException">Any other value; the message names the variable and the valid values.</exception>
    public bool? DebugMode => Get(DebugModeVariable) is not { } value ? null
        : value.Equals("ON", StringComparison.OrdinalIgnoreCase) ? true
        : value.Equals("OFF", StringComparison.OrdinalIgnoreCase) ? false
        : throw Invalid(DebugModeVariable, value, "ON (log every buffer operation at Debug level) or OFF (the default), case-insensitive");

    /// <summary><c>MOE_SHARED_EXPERT_RANK_NUM</c>: a non-negative integer, null when unset (the group size bound is checked by the buffer).</summary>
    /// <exception cref="InvalidOperationException">Not a non-negative integer; the message names the variable and the valid values.</exception>
    public int? SharedExpertRankNum => Get(SharedExpertRankNumVariable) switch
    {
        null => null,
        string value when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int ranks) => ranks,
        string other => throw Invalid(SharedExpertRankNumVariable, other, "an integer from 0 (no shared-expert ranks, the default) to the group size - 1"),
    };

    private static InvalidOperationException Invalid(string name, string value, string valid) =>
        new($"{name}='{value}' is not valid; valid values: {valid}, or unset it.");

    /// <summary>The value of <paramref name="name"/>, or null when unset.</summary>
    public string? Get(string name) => _values.GetValueOrDefault(name);
}
