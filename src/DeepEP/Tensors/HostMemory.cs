using System.Runtime.InteropServices;

namespace DeepEP.Tensors;

/// <summary>Owns an aligned block of native host memory (pageable).</summary>
internal sealed unsafe class HostMemory : SafeHandle
{
    private const nuint Alignment = 128;

    public HostMemory(long bytes)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        nuint size = (nuint)Math.Max(bytes, 1);
        SetHandle((nint)NativeMemory.AlignedAlloc(size, Alignment));
        GC.AddMemoryPressure((long)size);
        Bytes = (long)size;
    }

    public long Bytes { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure(Bytes);
        return true;
    }
}
