using System.Runtime.InteropServices;

namespace DeepEP.Cuda;

/// <summary>
/// One co-owner of a <see cref="DeviceMemory"/> block that several tensors share: each lease holds a reference on the
/// block (SafeHandle reference counting), and the block returns to its pool when the last lease is disposed.
/// </summary>
internal sealed class DeviceMemoryLease : SafeHandle
{
    private readonly DeviceMemory _block;

    /// <summary>Takes a reference on <paramref name="block"/>; <paramref name="offset"/> is where this share starts.</summary>
    public DeviceMemoryLease(DeviceMemory block, long offset)
        : base(0, ownsHandle: true)
    {
        bool added = false;
        block.DangerousAddRef(ref added);
        _block = block;
        SetHandle(block.Pointer + (nint)offset);
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
