using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGetCount(out int count);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGetUuid_v2(out CuUuid uuid, int device);
}
