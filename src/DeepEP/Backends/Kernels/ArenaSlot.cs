using System.Runtime.InteropServices;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// One leased slot of <see cref="ArenaSlots"/>; its handle is the slot's local address. Tensors made with
/// <c>DeviceTensor.Leased</c> co-own it: disposing the slot and all of them frees it for the next lease.
/// </summary>
internal sealed class ArenaSlot : SafeHandle
{
    private readonly ArenaSlots _owner;
    private readonly int _index;

    public ArenaSlot(ArenaSlots owner, int index, nint address)
        : base(0, ownsHandle: true)
    {
        _owner = owner;
        _index = index;
        SetHandle(address);
    }

    /// <summary>This rank's address of the slot's first byte.</summary>
    public nint Address => handle;

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        _owner.Release(_index);
        return true;
    }
}
