using System.Runtime.CompilerServices;

namespace DeepEP.Interop;

/// <summary><c>ncclUniqueId</c>: 128 opaque bytes, created on one rank and passed by value on every rank.</summary>
[InlineArray(128)]
internal struct NcclUniqueId
{
    private byte _element0;
}
