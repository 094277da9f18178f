using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK</c>.</summary>
    public const int P2PAttributePerformanceRank = 1;

    /// <summary><c>CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED</c>.</summary>
    public const int P2PAttributeAccessSupported = 2;

    /// <summary><c>CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED</c>.</summary>
    public const int P2PAttributeNativeAtomicSupported = 3;

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceCanAccessPeer(out int canAccessPeer, int device, int peerDevice);

    [LibraryImport(Library)]
    public static partial CuResult cuCtxEnablePeerAccess(nint peerContext, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuDeviceGetP2PAttribute(out int value, int attribute, int sourceDevice, int destinationDevice);
}
