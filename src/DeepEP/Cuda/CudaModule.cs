using System.Runtime.InteropServices;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>A loaded CUBIN on one device (<c>cuModuleLoadData</c>); unloaded on dispose, which invalidates its kernels.</summary>
internal sealed class CudaModule : SafeHandle
{
    private CudaModule(int device)
        : base(0, ownsHandle: true) => Device = device;

    /// <summary>Device ordinal.</summary>
    public int Device { get; }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Loads <paramref name="image"/> (a CUBIN, or PTX to JIT) into <paramref name="device"/>'s primary context.</summary>
    public static unsafe CudaModule Load(int device, ReadOnlySpan<byte> image)
    {
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        var module = new CudaModule(device);
        fixed (byte* data = image)
        {
            Check(CudaDriver.cuModuleLoadData(out nint handle, data));
            module.SetHandle(handle);
        }
        return module;
    }

    /// <summary>The kernel with the (mangled) name <paramref name="loweredName"/>.</summary>
    public CudaKernel GetKernel(string loweredName)
    {
        Check(CudaDriver.cuModuleGetFunction(out nint function, handle, loweredName));
        return new CudaKernel(this, function, loweredName);
    }

    /// <summary>The device address and size in bytes of the <c>__device__</c> variable <paramref name="name"/>, or null when the module has none.</summary>
    public (nint Pointer, long Bytes)? TryGetGlobal(string name)
    {
        CuResult result = CudaDriver.cuModuleGetGlobal_v2(out nint pointer, out nuint bytes, handle, name);
        if (result == CuResult.NotFound)
        {
            return null;
        }
        Check(result, nameof(CudaDriver.cuModuleGetGlobal_v2));
        return (pointer, (long)bytes);
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        using CudaContextScope scope = CudaDevice.Get(Device).Activate();
        return CudaDriver.cuModuleUnload(handle) == CuResult.Success;
    }
}
