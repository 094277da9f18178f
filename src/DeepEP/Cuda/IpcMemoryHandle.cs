using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// A CUDA IPC handle for a <c>cuMemAlloc</c> allocation (<see cref="DeviceMemory.Allocate"/>; pool memory cannot be
/// exported): 64 blittable bytes that another process sends back to <see cref="Open"/>. Exchange it with
/// <see cref="ToBytes"/> / <see cref="FromBytes"/> over the process group.
/// </summary>
internal readonly struct IpcMemoryHandle
{
    /// <summary>Size of the handle in bytes.</summary>
    public const int Size = 64;

    private readonly CuIpcMemHandle _handle;

    private IpcMemoryHandle(CuIpcMemHandle handle) => _handle = handle;

    /// <summary>Exports the allocation that contains <paramref name="devicePointer"/> on <paramref name="device"/>.</summary>
    public static IpcMemoryHandle Get(int device, nint devicePointer)
    {
        using CudaContextScope scope = CudaDevice.Get(device).Activate();
        Check(CudaDriver.cuIpcGetMemHandle(out CuIpcMemHandle handle, devicePointer));
        return new IpcMemoryHandle(handle);
    }

    /// <summary>Rebuilds a handle from the 64 bytes <see cref="ToBytes"/> produced.</summary>
    public static IpcMemoryHandle FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A CUDA IPC handle is {Size} bytes, not {bytes.Length}.", nameof(bytes));
        }
        CuIpcMemHandle handle = default;
        bytes.CopyTo(handle);
        return new IpcMemoryHandle(handle);
    }

    /// <summary>The handle's 64 bytes.</summary>
    public byte[] ToBytes()
    {
        CuIpcMemHandle copy = _handle;
        return ((ReadOnlySpan<byte>)copy).ToArray();
    }

    /// <summary>
    /// Maps the exported allocation into this process on <paramref name="device"/> (peer access enabled lazily).
    /// The driver refuses handles exported by this same process; in-process ranks use peer access instead.
    /// </summary>
    public IpcMemoryMapping Open(int device) => IpcMemoryMapping.Open(device, _handle);
}
