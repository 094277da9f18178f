using System.Collections.Concurrent;
using DeepEP.Configuration;
using DeepEP.Cuda;

namespace DeepEP.Jit;

/// <summary>
/// The JIT entry point: compiles <see cref="KernelProgram"/>s with NVRTC for a device's architecture, behind a
/// memory cache and a disk cache (<see cref="KernelDiskCache"/>), and loads them as modules per device.
/// Thread-safe; each program compiles at most once per process even when asked for concurrently.
/// </summary>
internal sealed class KernelCompiler
{
    private static readonly Lazy<KernelCompiler> s_shared = new(() => new KernelCompiler(EnvironmentKnobs.Current.CacheDirectory));

    private readonly ConcurrentDictionary<string, Lazy<KernelCacheEntry>> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Key, int Device), Lazy<CudaModule>> _modules = new();
    private readonly ConcurrentDictionary<(string Key, int Device, string Expression), CudaKernel> _kernels = new();
    private readonly Lazy<CudaIncludeLocator.Result> _includes;
    private readonly IReadOnlyList<KernelHeader> _headers;
    private int _compilations;
    private int _diskHits;
    private int _memoryHits;

    /// <summary>A compiler caching under <paramref name="cacheDirectory"/>, with the embedded kernel tree.</summary>
    public KernelCompiler(string cacheDirectory)
        : this(cacheDirectory, KernelSourceTree.Headers)
    {
    }

    /// <summary>A compiler caching under <paramref name="cacheDirectory"/>, with the given headers (tests).</summary>
    public KernelCompiler(string cacheDirectory, IReadOnlyList<KernelHeader> headers)
    {
        DiskCache = new KernelDiskCache(cacheDirectory);
        _headers = headers;
        _includes = new Lazy<CudaIncludeLocator.Result>(CudaIncludeLocator.FindForProcess);
    }

    /// <summary>The process-wide compiler, caching in <see cref="EnvironmentKnobs.CacheDirectory"/>.</summary>
    public static KernelCompiler Shared => s_shared.Value;

    /// <summary>The disk cache.</summary>
    public KernelDiskCache DiskCache { get; }

    /// <summary>Programs compiled by NVRTC so far.</summary>
    public int Compilations => Volatile.Read(ref _compilations);

    /// <summary>Programs read from the disk cache so far.</summary>
    public int DiskHits => Volatile.Read(ref _diskHits);

    /// <summary>Requests answered from memory so far.</summary>
    public int MemoryHits => Volatile.Read(ref _memoryHits);

    /// <summary>The NVRTC options for <paramref name="architecture"/> (e.g. <c>sm_90a</c>).</summary>
    public IReadOnlyList<string> Options(string architecture)
    {
        var options = new List<string> { $"--gpu-architecture={architecture}", "-std=c++17", "-default-device" };
        options.AddRange(_includes.Value.IncludeFolders.Select(folder => $"-I{folder}"));
        return options;
    }

    /// <summary>Compiles <paramref name="program"/> for <paramref name="architecture"/> or returns the cached result.</summary>
    /// <exception cref="KernelCompilationException">The source did not compile.</exception>
    /// <exception cref="GpuUnavailableException">NVRTC was not found.</exception>
    public KernelCacheEntry Compile(KernelProgram program, string architecture)
    {
        ArgumentNullException.ThrowIfNull(program);
        IReadOnlyList<string> options = Options(architecture);
        string key = KernelCacheKey.Compute(program.Source, program.NameExpressions, _headers, NvrtcCompiler.Version, options, architecture);
        bool created = false;
        Lazy<KernelCacheEntry> lazy = _entries.GetOrAdd(key, k => new Lazy<KernelCacheEntry>(() =>
        {
            created = true;
            return Load(k, program, options);
        }));
        try
        {
            KernelCacheEntry entry = lazy.Value;
            if (!created)
            {
                Interlocked.Increment(ref _memoryHits);
            }
            return entry;
        }
        catch
        {
            // Let a later call try again (e.g. after fixing CUDA_HOME) rather than caching the failure.
            _entries.TryRemove(new KeyValuePair<string, Lazy<KernelCacheEntry>>(key, lazy));
            throw;
        }
    }

    /// <summary>
    /// The kernel <paramref name="nameExpression"/> of <paramref name="program"/>, compiled for and loaded on <paramref name="device"/>:
    /// for its own architecture, or for <paramref name="architecture"/> (one it runs, e.g. <c>sm_90</c> on Hopper, whose kernels then take their non-wgmma paths).
    /// </summary>
    public CudaKernel GetKernel(KernelProgram program, string nameExpression, CudaDevice device, string? architecture = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        KernelCacheEntry entry = Compile(program, architecture ?? device.ComputeCapability.NvrtcArchitecture);
        return _kernels.GetOrAdd((entry.Key, device.Ordinal, nameExpression), k =>
        {
            if (!entry.LoweredNames.TryGetValue(k.Expression, out string? lowered))
            {
                throw new ArgumentException($"'{k.Expression}' is not one of program '{program.Name}''s name expressions: {string.Join(", ", program.NameExpressions)}.", nameof(nameExpression));
            }
            CudaModule module = _modules.GetOrAdd((k.Key, k.Device), m => new Lazy<CudaModule>(() =>
            {
                device.QuiesceCallingThread();
                return CudaModule.Load(m.Device, entry.Cubin);
            })).Value;
            return module.GetKernel(lowered);
        });
    }

    private KernelCacheEntry Load(string key, KernelProgram program, IReadOnlyList<string> options)
    {
        if (DiskCache.TryRead(key) is { } cached && program.NameExpressions.All(cached.LoweredNames.ContainsKey))
        {
            Interlocked.Increment(ref _diskHits);
            return cached;
        }
        CudaIncludeLocator.Result includes = _includes.Value;
        string hint = includes.IncludeFolders.Count > 0
            ? ""
            : $"No CUDA include folder with cuda_bf16.h and cuda_fp8.h was found (set CUDA_HOME); searched: {string.Join("; ", includes.Searched)}.";
        KernelCacheEntry entry = NvrtcCompiler.Compile(key, program, _headers, options, hint);
        Interlocked.Increment(ref _compilations);
        DiskCache.Write(entry);
        return entry;
    }
}
