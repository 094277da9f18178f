using DeepEP.Configuration;
using DeepEP.NativeLibraries;

namespace DeepEP.Tests.NativeLibraries;

/// <summary>
/// Native library searches run with a fake loader, so the messages built from a search can be tested the same way
/// on machines with and without the GPU stack.
/// </summary>
internal static class FakeProbes
{
    /// <summary>A search for <paramref name="kind"/> where nothing loads.</summary>
    public static NativeLibraryProbe Missing(NativeLibraryKind kind) =>
        NativeLibraryProbing.Run(kind, NoVariables(), () => [], (string name, out nint handle) =>
        {
            handle = 0;
            return false;
        });

    /// <summary>A search for <paramref name="kind"/> where the first place tried loads.</summary>
    public static NativeLibraryProbe Found(NativeLibraryKind kind) =>
        NativeLibraryProbing.Run(kind, NoVariables(), () => [], (string name, out nint handle) =>
        {
            handle = 42;
            return true;
        });

    private static EnvironmentKnobs NoVariables() => EnvironmentKnobs.FromVariables(new Dictionary<string, string>());
}
