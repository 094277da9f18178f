using System.Runtime.InteropServices;

namespace DeepEP.Interop;

/// <summary><c>CUlaunchConfig</c> for <c>cuLaunchKernelEx</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CuLaunchConfig
{
    public uint GridDimX;
    public uint GridDimY;
    public uint GridDimZ;
    public uint BlockDimX;
    public uint BlockDimY;
    public uint BlockDimZ;
    public uint SharedMemBytes;
    public nint Stream;
    public CuLaunchAttribute* Attributes;
    public uint NumAttributes;
}
