using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    [LibraryImport(Library)]
    public static partial CuResult cuInit(uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuDriverGetVersion(out int driverVersion);

    [LibraryImport(Library)]
    public static partial CuResult cuGetErrorName(CuResult error, out nint name);

    [LibraryImport(Library)]
    public static partial CuResult cuGetErrorString(CuResult error, out nint text);
}
