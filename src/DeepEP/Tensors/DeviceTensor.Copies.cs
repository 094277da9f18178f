using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Tensors;

// Copies between tensors and host arrays, honouring strides.
public sealed partial class DeviceTensor
{
    /// <summary>Overwrites a contiguous tensor with <paramref name="data"/> (host-to-device copy for device tensors).</summary>
    public unsafe void CopyFrom<T>(ReadOnlySpan<T> data)
        where T : unmanaged
    {
        RequireContiguous();
        long bytes = (long)data.Length * Unsafe.SizeOf<T>();
        if (bytes != ByteSize)
        {
            throw new ArgumentException($"data is {bytes} bytes but {Describe()} is {ByteSize} bytes.", nameof(data));
        }
        fixed (T* source = data)
        {
            if (IsHost)
            {
                Buffer.MemoryCopy(source, (void*)Pointer, bytes, bytes);
            }
            else
            {
                StagedHostCopy.FromHost(Device, Pointer, (nint)source, bytes);
            }
        }
    }

    /// <summary>
    /// Copies the elements, in logical row-major order, into a new host array; <c>ToArray&lt;byte&gt;()</c> gives the
    /// raw bytes of any element type (<see cref="ByteSize"/> of them).
    /// </summary>
    public T[] ToArray<T>()
        where T : unmanaged
    {
        ThrowIfDisposed();
        bool rawBytes = typeof(T) == typeof(byte);
        if (!rawBytes && Unsafe.SizeOf<T>() != DType.ElementSize())
        {
            throw new ArgumentException($"{typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes but {DType} elements are {DType.ElementSize()}; use a type of that size, or byte for the raw bytes.");
        }
        var result = new T[rawBytes ? ByteSize : NumElements];
        CopyLogicalBytesTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>Copies into a new contiguous tensor on <paramref name="device"/> (strides are materialised).</summary>
    public DeviceTensor To(int device, CudaStream? stream = null)
    {
        ThrowIfDisposed();
        DeviceTensor result = Empty(DType, _shape, device, stream);
        if (IsContiguous)
        {
            CopyBytes(result, this, ByteSize);
        }
        else
        {
            byte[] packed = new byte[ByteSize];
            CopyLogicalBytesTo(packed);
            result.CopyFrom<byte>(packed);
        }
        return result;
    }

    /// <summary>Writes the elements in logical row-major order; device data is first copied over its whole strided extent.</summary>
    private unsafe void CopyLogicalBytesTo(Span<byte> destination)
    {
        if (NumElements == 0)
        {
            return;
        }
        if (!IsHost && IsContiguous)
        {
            fixed (byte* target = destination)
            {
                StagedHostCopy.ToHost(Device, (nint)target, Pointer, ByteSize);
            }
            return;
        }
        if (!IsHost)
        {
            long extent = 1;
            for (int d = 0; d < Rank; d++)
            {
                extent += (_shape[d] - 1) * _strides[d];
            }
            using var staging = new HostMemory(extent * DType.ElementSize());
            StagedHostCopy.ToHost(Device, staging.DangerousGetHandle(), Pointer, extent * DType.ElementSize());
            new DeviceTensor(staging.DangerousGetHandle(), _shape, _strides, DType, HostDevice, owner: null).CopyLogicalBytesTo(destination);
            return;
        }
        int elementSize = DType.ElementSize();
        if (IsContiguous)
        {
            new ReadOnlySpan<byte>((void*)Pointer, checked((int)ByteSize)).CopyTo(destination);
            return;
        }
        var index = new long[Rank];
        long count = NumElements;
        byte* basePointer = (byte*)Pointer;
        for (long i = 0; i < count; i++)
        {
            long offset = 0;
            for (int d = 0; d < Rank; d++)
            {
                offset += index[d] * _strides[d];
            }
            new ReadOnlySpan<byte>(basePointer + (offset * elementSize), elementSize).CopyTo(destination.Slice((int)(i * elementSize), elementSize));
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (++index[d] < _shape[d])
                {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    private static unsafe void CopyBytes(DeviceTensor destination, DeviceTensor source, long bytes)
    {
        if (destination.IsHost && source.IsHost)
        {
            Buffer.MemoryCopy((void*)source.Pointer, (void*)destination.Pointer, bytes, bytes);
            return;
        }
        if (destination.IsHost)
        {
            StagedHostCopy.ToHost(source.Device, destination.Pointer, source.Pointer, bytes);
        }
        else if (source.IsHost)
        {
            StagedHostCopy.FromHost(destination.Device, destination.Pointer, source.Pointer, bytes);
        }
        else
        {
            DeviceMemory.Copy(destination.Device, destination.Pointer, source.Pointer, bytes);
        }
    }
}
