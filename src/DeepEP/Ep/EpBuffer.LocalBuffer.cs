using DeepEP.Tensors;

namespace DeepEP.Ep;

// DeepEP's Buffer.get_local_buffer_tensor.
public sealed partial class EpBuffer
{
    /// <summary>
    /// A typed view of this rank's communication buffer (DeepEP's <c>get_local_buffer_tensor</c>): contiguous
    /// <paramref name="dtype"/> elements starting <paramref name="offset"/> bytes into the normal-mode buffer
    /// (<c>numNvlBytes</c>) or, with <paramref name="useRdmaBuffer"/>, the low-latency buffer (<c>numRdmaBytes</c>).
    /// Nothing is copied or launched. The view is valid until the buffer is destroyed (then its data accessors throw
    /// <see cref="ObjectDisposedException"/>); peers may write into the low-latency buffer during low-latency calls.
    /// </summary>
    /// <remarks>
    /// Per backend: host — zeroed host memory of the declared size, allocated at the first call and used by no operation;
    /// kernels — the low-latency buffer only (this rank's copy of the symmetric allocation, on its GPU), the normal-mode one
    /// is refused because the backend does not allocate <c>numNvlBytes</c> as one buffer; NCCL — refused, it holds no
    /// buffer. Refusals are <see cref="NotSupportedException"/>s saying why. Unlike upstream, which views
    /// <c>num_bytes / element_size</c> elements from the offset (past the end when the offset is not 0), the view ends at the
    /// buffer's end.
    /// </remarks>
    /// <param name="dtype">Element type of the view.</param>
    /// <param name="size">Shape of the view (DeepEP's <c>size</c>); null: 1-D, every whole element from <paramref name="offset"/> to the buffer's end.</param>
    /// <param name="offset">Start of the view, in bytes from the buffer's start; a non-negative multiple of the element size.</param>
    /// <param name="useRdmaBuffer">View the low-latency buffer instead of the normal-mode one.</param>
    /// <returns>A non-owning <paramref name="dtype"/> tensor on <see cref="Device"/>, shaped <paramref name="size"/> or <c>[(bytes - offset) / elementSize]</c>.</returns>
    /// <exception cref="ArgumentException">The buffer is empty, or the offset or size do not fit it.</exception>
    /// <exception cref="NotSupportedException">The backend holds no such buffer (see remarks).</exception>
    public DeviceTensor GetLocalBufferTensor(DType dtype, long[]? size = null, long offset = 0, bool useRdmaBuffer = false)
    {
        EnsureUsable();
        int elementSize = dtype.ElementSize();
        long bytes = useRdmaBuffer ? NumRdmaBytes : NumNvlBytes;
        string which = useRdmaBuffer ? "numRdmaBytes" : "numNvlBytes";
        TensorChecks.That(!useRdmaBuffer || LowLatencyMode, nameof(useRdmaBuffer),
            "useRdmaBuffer needs the low-latency buffer: create the EpBuffer with lowLatencyMode: true and numRdmaBytes > 0, or pass useRdmaBuffer: false.");
        TensorChecks.That(bytes > 0, nameof(useRdmaBuffer), $"This EpBuffer was created with {which} = 0, so that buffer is empty; create it with {which} > 0.");
        TensorChecks.That(offset >= 0 && offset <= bytes && offset % elementSize == 0, nameof(offset),
            $"offset ({offset}) must be a multiple of the {dtype} element size {elementSize} between 0 and {which} ({bytes}).");
        long available = (bytes - offset) / elementSize;
        long[] shape = size is null ? [available] : (long[])size.Clone();
        long count = 1;
        foreach (long dim in shape)
        {
            TensorChecks.That(dim >= 0, nameof(size), $"size [{string.Join(", ", shape)}] has a negative dimension; give sizes >= 0.");
            count = checked(count * dim);
        }
        TensorChecks.That(count <= available, nameof(size),
            $"size [{string.Join(", ", shape)}] needs {count} {dtype} elements but only {available} fit after byte {offset} of {which} ({bytes}); pass a smaller size or offset.");
        using DeviceTensor whole = _backend.LocalBufferBytes(useRdmaBuffer);
        return whole.ReinterpretBytes(offset, dtype, shape);
    }
}
