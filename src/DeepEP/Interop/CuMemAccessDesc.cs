using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary><c>CUmemAccessDesc</c>: which location may access memory, and how.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CuMemAccessDesc
{
    /// <summary><c>CU_MEM_LOCATION_TYPE_DEVICE</c>.</summary>
    public const int LocationTypeDevice = 1;

    /// <summary><c>CU_MEM_ACCESS_FLAGS_PROT_READWRITE</c>.</summary>
    public const int ProtReadWrite = 3;

    public int LocationType;
    public int LocationId;
    public int Flags;
}
