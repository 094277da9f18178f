namespace DeepEP.Jit;

/// <summary>A compiled program as the caches hold it.</summary>
/// <param name="Key">The <see cref="KernelCacheKey"/>.</param>
/// <param name="Cubin">The CUBIN image.</param>
/// <param name="Source">The generated source it came from.</param>
/// <param name="Options">The NVRTC options.</param>
/// <param name="Log">The compile log (warnings; often empty).</param>
/// <param name="LoweredNames">Name expression → mangled kernel name.</param>
internal sealed record KernelCacheEntry(
    string Key,
    byte[] Cubin,
    string Source,
    IReadOnlyList<string> Options,
    string Log,
    IReadOnlyDictionary<string, string> LoweredNames);
