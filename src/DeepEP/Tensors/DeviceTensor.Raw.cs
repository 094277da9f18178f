using System.Runtime.InteropServices;

namespace DeepEP.Tensors;

// Byte-level views of an allocation owned elsewhere in the library (a backend's communication buffer): pointer
// arithmetic only, and every view reports itself disposed once that allocation is freed.
public sealed partial class DeviceTensor
{
    /// <summary>A 1-D UInt8 view of <paramref name="bytes"/> bytes at <paramref name="pointer"/> inside <paramref name="memory"/>, which its owner keeps and frees.</summary>
    internal static DeviceTensor BytesOf(SafeHandle memory, nint pointer, long bytes, int device) =>
        new(pointer, [bytes], [1], DType.UInt8, device, owner: null, memory);

    /// <summary>
    /// A contiguous tensor at <paramref name="pointer"/> inside <paramref name="block"/> that co-owns the block: the
    /// block is released once its owner and every such tensor are disposed (a receive-arena slot handed to a caller).
    /// </summary>
    internal static DeviceTensor Leased(SafeHandle block, nint pointer, DType dtype, long[] shape, int device)
    {
        var lease = new Cuda.DeviceMemoryLease(block, pointer);
        return new DeviceTensor(pointer, shape, ContiguousStrides(shape), dtype, device, lease);
    }

    /// <summary>
    /// A contiguous <paramref name="dtype"/> view of this contiguous byte tensor, <paramref name="byteOffset"/> bytes in,
    /// shaped <paramref name="shape"/>; the caller has checked that it fits.
    /// </summary>
    internal DeviceTensor ReinterpretBytes(long byteOffset, DType dtype, long[] shape)
    {
        RequireContiguous();
        if (byteOffset < 0 || byteOffset + (ElementCount(shape) * dtype.ElementSize()) > ByteSize)
        {
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"{dtype} [{string.Join(", ", shape)}] at byte {byteOffset} is outside {Describe()}.");
        }
        return new DeviceTensor(Pointer + (nint)byteOffset, shape, ContiguousStrides(shape), dtype, Device, owner: null, _memory);
    }
}
