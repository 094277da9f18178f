using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>Another process's allocation mapped into this one (<c>cuIpcOpenMemHandle_v2</c>); unmapped on dispose.</summary>
internal sealed class IpcMemoryMapping : DeferredReleaseHandle
{
    private IpcMemoryMapping(int device) => Device = device;

    /// <summary>The mapped address, valid on <see cref="Device"/>.</summary>
    public nint Pointer => handle;

    /// <summary>The device whose context mapped it.</summary>
    public int Device { get; }


    internal static IpcMemoryMapping Open(int device, CuIpcMemHandle handle)
    {
        DrainDeferred();
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        var mapping = new IpcMemoryMapping(device);
        Check(CudaDriver.cuIpcOpenMemHandle_v2(out nint pointer, handle, CudaDriver.IpcMemLazyEnablePeerAccess));
        mapping.SetHandle(pointer);
        return mapping;
    }

    /// <inheritdoc />
    protected override Func<bool> CreateRelease()
    {
        (int device, nint pointer) = (Device, handle);
        return () =>
        {
            using CudaContextScope scope = CudaDevice.Get(device).Activate();
            return CudaDriver.cuIpcCloseMemHandle(pointer) == CuResult.Success;
        };
    }
}
