using System.Runtime.CompilerServices;

namespace DeepEP.Interop;

/// <summary><c>CUuuid</c>: 16 raw bytes identifying a device.</summary>
[InlineArray(16)]
internal struct CuUuid
{
    private byte _element0;
}
