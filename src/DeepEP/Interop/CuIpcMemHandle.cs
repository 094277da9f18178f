using System.Runtime.CompilerServices;

namespace DeepEP.Interop;

/// <summary><c>CUipcMemHandle</c>: 64 opaque bytes, passed by value.</summary>
[InlineArray(64)]
internal struct CuIpcMemHandle
{
    private byte _element0;
}
