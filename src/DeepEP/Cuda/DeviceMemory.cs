using System.Runtime.InteropServices;

namespace DeepEP.Cuda;

/// <summary>PLACEHOLDER until the CUDA layer lands: stream-ordered device memory.</summary>
internal sealed class DeviceMemory : SafeHandle
{
    private DeviceMemory()
        : base(IntPtr.Zero, true)
    {
    }

    public nint Pointer => handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static DeviceMemory AllocateAsync(int device, long bytes, CudaStream? stream) => throw new NotSupportedException();

    public static void Copy(int device, nint destination, nint source, long bytes) => throw new NotSupportedException();

    public static void Fill(int device, nint destination, byte value, long bytes, CudaStream? stream) => throw new NotSupportedException();

    protected override bool ReleaseHandle() => true;
}
