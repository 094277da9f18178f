using System.Globalization;

namespace DeepEP.Ep;

/// <summary>
/// Every environment variable the library reads, as typed properties (documented in <c>docs/environment.md</c>).
/// Nothing else in the library reads the environment. Values are captured when the instance is created;
/// parsing happens when a property is read, so a bad value fails where it is used, with a message naming it.
/// </summary>
public sealed class EpEnvironment
{
    /// <summary><c>DEEPEP_BACKEND</c>: <c>kernels</c>, <c>nccl</c> or <c>host</c>.</summary>
    public const string BackendVariable = "DEEPEP_BACKEND";

    /// <summary><c>DEEP_USE_MODE</c>: DeepEP-Ascend's alias, <c>default</c> (= kernels) or <c>alltoall</c> (= nccl).</summary>
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

    /// <summary>Largest <c>DEEPEP_TIMEOUT_S</c>: what host waits accept (<see cref="int.MaxValue"/> milliseconds).</summary>
    public const int MaxTimeoutSeconds = int.MaxValue / 1000;

    /// <summary>The timeout used when <c>DEEPEP_TIMEOUT_S</c> is unset.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(100);

    private static readonly string[] s_variables =
    [
        BackendVariable, UseModeVariable, CudaLibraryVariable, NvrtcLibraryVariable, NcclLibraryVariable,
        CacheDirectoryVariable, TimeoutVariable, CudaHomeVariable,
        .. Distributed.DistributedEnvironment.VariableNames,
    ];

    private static readonly Lazy<EpEnvironment> s_current = new(FromProcess);

    private readonly Dictionary<string, string> _values;

    private EpEnvironment(Dictionary<string, string> values) => _values = values;

    /// <summary>The process environment, captured at first use.</summary>
    public static EpEnvironment Current => s_current.Value;

    /// <summary>Captures the library's variables from the process environment now.</summary>
    public static EpEnvironment FromProcess()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in s_variables)
        {
            string? value = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrWhiteSpace(value))
            {
                values[name] = value.Trim();
            }
        }
        return new EpEnvironment(values);
    }

    /// <summary>An environment made of <paramref name="variables"/> only (tests, embedding hosts); empty values count as unset.</summary>
    public static EpEnvironment FromVariables(IReadOnlyDictionary<string, string> variables)
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
        return new EpEnvironment(values);
    }

    /// <summary>The torchrun-style rank variables (RANK, WORLD_SIZE, …) as captured, for <see cref="Distributed.DistributedEnvironment"/>.</summary>
    public IReadOnlyDictionary<string, string?> DistributedVariables =>
        Distributed.DistributedEnvironment.VariableNames.ToDictionary(name => name, Get);

    /// <summary>
    /// The backend chosen by <c>DEEPEP_BACKEND</c> (or its alias <c>DEEP_USE_MODE</c>); null when neither is set.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not one of the valid names (the message lists them).</exception>
    public EpBackendKind? Backend
    {
        get
        {
            if (_values.TryGetValue(BackendVariable, out string? backend))
            {
                return backend.ToLowerInvariant() switch
                {
                    "kernels" => EpBackendKind.Kernels,
                    "nccl" => EpBackendKind.Nccl,
                    "host" => EpBackendKind.Host,
                    _ => throw new InvalidOperationException($"{BackendVariable}='{backend}' is not a backend; valid values: kernels, nccl, host."),
                };
            }
            if (_values.TryGetValue(UseModeVariable, out string? mode))
            {
                return mode.ToLowerInvariant() switch
                {
                    "default" => EpBackendKind.Kernels,
                    "alltoall" => EpBackendKind.Nccl,
                    _ => throw new InvalidOperationException($"{UseModeVariable}='{mode}' is not a mode; valid values: default (kernels), alltoall (nccl). Or set {BackendVariable} to kernels, nccl or host."),
                };
            }
            return null;
        }
    }

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
    /// How long spin-waits and collectives wait: <c>DEEPEP_TIMEOUT_S</c> seconds (a number in (0, <see cref="MaxTimeoutSeconds"/>]), else 100 s.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not a number of seconds in that range; the message names the variable.</exception>
    public TimeSpan Timeout
    {
        get
        {
            string? configured = Get(TimeoutVariable);
            if (configured is null)
            {
                return DefaultTimeout;
            }
            if (!double.TryParse(configured, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0) || seconds > MaxTimeoutSeconds)
            {
                throw new InvalidOperationException(
                    $"{TimeoutVariable}='{configured}' is not a valid timeout: set it to a number of seconds greater than 0 and at most {MaxTimeoutSeconds} (about 24 days), or unset it for {DefaultTimeout.TotalSeconds:0} s.");
            }
            return TimeSpan.FromSeconds(seconds);
        }
    }

    /// <summary>
    /// The one deadline source of every backend and process group: <paramref name="timeout"/> when given, else
    /// <c>DEEPEP_TIMEOUT_S</c> (read now, from <paramref name="environment"/>, default <see cref="Current"/>), else <see cref="DefaultTimeout"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive or longer than about 24 days.</exception>
    /// <exception cref="InvalidOperationException">The variable is used and invalid.</exception>
    internal static TimeSpan ResolveTimeout(TimeSpan? timeout, string paramName, EpEnvironment? environment = null)
    {
        if (timeout is not { } given)
        {
            return (environment ?? Current).Timeout;
        }
        return Distributed.Deadline.Validate(given, paramName);
    }

    private string? Get(string name) => _values.GetValueOrDefault(name);
}
