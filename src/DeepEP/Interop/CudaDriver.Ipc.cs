using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS</c>.</summary>
    public const uint IpcMemLazyEnablePeerAccess = 0x1;

    [LibraryImport(Library)]
    public static partial CuResult cuIpcGetMemHandle(out CuIpcMemHandle handle, nint devicePointer);

    [LibraryImport(Library)]
    public static partial CuResult cuIpcOpenMemHandle_v2(out nint devicePointer, CuIpcMemHandle handle, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuIpcCloseMemHandle(nint devicePointer);
}
