using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    [LibraryImport(Library)]
    public static unsafe partial CuResult cuModuleLoadData(out nint module, void* image);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CuResult cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CuResult cuModuleGetGlobal_v2(out nint devicePointer, out nuint bytes, nint module, string name);

    [LibraryImport(Library)]
    public static partial CuResult cuModuleUnload(nint module);
}
