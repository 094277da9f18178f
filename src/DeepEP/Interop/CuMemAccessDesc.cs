using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary><c>CUmemAccessDesc</c>: which location may access a pool's memory, and how.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CuMemAccessDesc
{
    /// <summary><c>CU_MEM_LOCATION_TYPE_DEVICE</c>.</summary>
    public const int LocationTypeDevice = 1;

    /// <summary><c>CU_MEM_ACCESS_FLAGS_PROT_READWRITE</c>.</summary>
    public const int AccessReadWrite = 3;

    /// <summary><c>CUmemLocation.type</c>.</summary>
    public int LocationType;

    /// <summary><c>CUmemLocation.id</c>: the device ordinal.</summary>
    public int LocationId;

    /// <summary><c>CUmemAccess_flags</c>.</summary>
    public int Flags;
}
