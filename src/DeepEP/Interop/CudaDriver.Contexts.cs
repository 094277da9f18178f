using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    [LibraryImport(Library)]
    public static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library)]
    public static partial CuResult cuDevicePrimaryCtxRelease_v2(int device);

    [LibraryImport(Library)]
    public static partial CuResult cuCtxSetCurrent(nint context);

    [LibraryImport(Library)]
    public static partial CuResult cuCtxGetCurrent(out nint context);

    [LibraryImport(Library)]
    public static partial CuResult cuCtxSynchronize();

    [LibraryImport(Library)]
    public static partial CuResult cuCtxGetStreamPriorityRange(out int leastPriority, out int greatestPriority);
}
