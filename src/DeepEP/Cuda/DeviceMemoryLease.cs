using System.Runtime.InteropServices;

namespace DeepEP.Cuda;

/// <summary>
/// One co-owner of a block of device memory that several tensors share (a pool allocation split by
/// <c>DeviceTensor.EmptyGroup</c>, a slot of a receive arena): each lease holds a reference on the block (SafeHandle
/// reference counting), and the block is released when its owner and the last lease are disposed.
/// </summary>
internal sealed class DeviceMemoryLease : SafeHandle
{
    private readonly SafeHandle _block;

    /// <summary>Takes a reference on <paramref name="block"/>; <paramref name="address"/> is where this share starts.</summary>
    public DeviceMemoryLease(SafeHandle block, nint address)
        : base(0, ownsHandle: true)
    {
        bool added = false;
        block.DangerousAddRef(ref added);
        _block = block;
        SetHandle(address);
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        _block.DangerousRelease();
        return true;
    }
}
