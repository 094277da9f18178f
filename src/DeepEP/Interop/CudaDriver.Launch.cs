using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c>.</summary>
    public const int FunctionAttributeMaxDynamicSharedSizeBytes = 8;

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuLaunchKernel(
        nint function,
        uint gridDimX,
        uint gridDimY,
        uint gridDimZ,
        uint blockDimX,
        uint blockDimY,
        uint blockDimZ,
        uint sharedMemBytes,
        nint stream,
        void** kernelParams,
        void** extra);

    [LibraryImport(Library)]
    public static unsafe partial CuResult cuLaunchKernelEx(CuLaunchConfig* config, nint function, void** kernelParams, void** extra);

    [LibraryImport(Library)]
    public static partial CuResult cuFuncSetAttribute(nint function, int attribute, int value);

    [LibraryImport(Library)]
    public static partial CuResult cuFuncGetAttribute(out int value, int attribute, nint function);

    [LibraryImport(Library)]
    public static partial CuResult cuOccupancyMaxActiveBlocksPerMultiprocessor(out int numBlocks, nint function, int blockSize, nuint dynamicSharedMemBytes);
}
