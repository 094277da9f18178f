namespace DeepEP.NativeLibraries;

/// <summary>The outcome of looking for one native library: its handle (0 when not found) and every place tried, in order.</summary>
/// <param name="Kind">Which library.</param>
/// <param name="Handle">The <c>dlopen</c> handle, or 0.</param>
/// <param name="LoadedFrom">The file or soname that loaded, or null.</param>
/// <param name="Attempts">Each place tried, with what happened there.</param>
internal sealed record NativeLibraryProbe(NativeLibraryKind Kind, nint Handle, string? LoadedFrom, IReadOnlyList<string> Attempts)
{
    /// <summary>True when the library loaded.</summary>
    public bool Found => Handle != 0;

    /// <summary>A one-paragraph account of the search, for error messages.</summary>
    public string Describe() => Found
        ? $"{NativeLibraryProbing.DisplayName(Kind)} loaded from {LoadedFrom}"
        : $"{NativeLibraryProbing.DisplayName(Kind)} not found; searched: {string.Join("; ", Attempts)}";
}
