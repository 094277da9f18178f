using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary>
/// <c>ncclConfig_v21700</c>, the oldest layout with <c>size</c>/<c>version</c> headers: newer NCCL releases read the
/// fields this version names and default the rest, so one declaration serves every NCCL from 2.17 on.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclConfig
{
    private const uint Magic = 0xcafebeef;
    private const uint Version = 21700;

    /// <summary>NCCL_CONFIG_UNDEF_INT: leave the attribute at NCCL's default.</summary>
    private const int Undefined = int.MinValue;

    public nuint Size;
    public uint MagicValue;
    public uint VersionValue;
    public int Blocking;
    public int CgaClusterSize;
    public int MinCtas;
    public int MaxCtas;
    public nint NetName;

    /// <summary>A non-blocking communicator: calls return <c>ncclInProgress</c> and the caller polls <c>ncclCommGetAsyncError</c>, so every wait can have a deadline.</summary>
    public static NcclConfig NonBlocking => new()
    {
        Size = (nuint)Unsafe.SizeOf<NcclConfig>(),
        MagicValue = Magic,
        VersionValue = Version,
        Blocking = 0,
        CgaClusterSize = Undefined,
        MinCtas = Undefined,
        MaxCtas = Undefined,
        NetName = 0,
    };
}
