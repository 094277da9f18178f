using System.Runtime.InteropServices;
using DeepEP.NativeLibraries;

namespace DeepEP.Interop;

/// <summary>NVRTC, the runtime CUDA C++ compiler (<c>libnvrtc.so.&lt;major&gt;</c>). Programs are <see cref="nint"/> handles.</summary>
internal static unsafe partial class Nvrtc
{
    /// <summary>The name the declarations bind to; <see cref="NativeLibraryResolver"/> maps it to a file.</summary>
    public const string Library = NativeLibraryResolver.NvrtcLibraryName;

    static Nvrtc() => NativeLibraryResolver.Register();

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcVersion(out int major, out int minor);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcCreateProgram(out nint program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcDestroyProgram(ref nint program);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcCompileProgram(nint program, int numOptions, byte** options);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcGetProgramLogSize(nint program, out nuint logSize);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcGetCUBINSize(nint program, out nuint cubinSize);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial NvrtcResult nvrtcAddNameExpression(nint program, string nameExpression);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial NvrtcResult nvrtcGetLoweredName(nint program, string nameExpression, out nint loweredName);

    [LibraryImport(Library)]
    public static partial nint nvrtcGetErrorString(NvrtcResult result);
}
