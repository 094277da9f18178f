using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary>The C library's environment, which native code (the CUDA driver) reads; .NET's own copy is not it on Unix.</summary>
internal static partial class LibC
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetEnv(string name, string value, int overwrite);
}
