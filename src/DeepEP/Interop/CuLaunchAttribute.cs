using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary>
/// <c>CUlaunchAttribute</c>: a 4-byte id, 4 bytes of padding, then the 64-byte <c>CUlaunchAttributeValue</c> union
/// of which the library uses <c>cooperative</c> (one int) and <c>clusterDim</c> (three uints).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct CuLaunchAttribute
{
    /// <summary><c>CU_LAUNCH_ATTRIBUTE_COOPERATIVE</c>.</summary>
    public const int Cooperative = 2;

    /// <summary><c>CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION</c>.</summary>
    public const int ClusterDimension = 4;

    [FieldOffset(0)]
    public int Id;

    [FieldOffset(8)]
    public uint Value0;

    [FieldOffset(12)]
    public uint Value1;

    [FieldOffset(16)]
    public uint Value2;
}
