using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Cuda;

namespace DeepEP.Tensors;

/// <summary>
/// A strided n-dimensional array on a CUDA device or on the host. Owning tensors free their memory on
/// <see cref="Dispose"/> (device memory returns to the stream-ordered pool); borrowed tensors
/// (<see cref="FromPointer"/>) and views never free anything, and are valid only while their owner is.
/// </summary>
public sealed partial class DeviceTensor : IDisposable
{
    /// <summary>The <see cref="Device"/> value of a host tensor.</summary>
    public const int HostDevice = -1;

    private readonly long[] _shape;
    private readonly long[] _strides;
    private readonly SafeHandle? _owner;

    // The allocation this tensor addresses: its own (_owner) or, for a view, its parent's; null for borrowed memory.
    private readonly SafeHandle? _memory;
    private bool _disposed;

    private DeviceTensor(nint pointer, long[] shape, long[] strides, DType dtype, int device, SafeHandle? owner, SafeHandle? memory = null)
    {
        Pointer = pointer;
        _shape = shape;
        _strides = strides;
        DType = dtype;
        Device = device;
        _owner = owner;
        _memory = owner ?? memory;
    }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>CUDA device ordinal, or <see cref="HostDevice"/>.</summary>
    public int Device { get; }

    /// <summary>True when the data lives in host memory.</summary>
    public bool IsHost => Device == HostDevice;

    /// <summary>Address of element [0, 0, …] (a device pointer for device tensors).</summary>
    public nint Pointer { get; }

    /// <summary>
    /// True once this tensor was disposed, or the allocation it views was freed (a view of a disposed tensor). Shape,
    /// dtype and <see cref="Describe"/> stay readable; every access to the data throws <see cref="ObjectDisposedException"/>.
    /// Borrowed memory (<see cref="FromPointer"/>) is the caller's to keep alive and is never reported freed.
    /// </summary>
    public bool IsDisposed => _disposed || (_memory?.IsClosed ?? false);

    /// <summary>Size of each dimension, in elements.</summary>
    public ReadOnlySpan<long> Shape => _shape;

    /// <summary>Stride of each dimension, in elements (not bytes).</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    public long Size(int dim) => _shape[dim < 0 ? dim + _shape.Length : dim];

    /// <summary>Stride of dimension <paramref name="dim"/> in elements.</summary>
    public long Stride(int dim) => _strides[dim < 0 ? dim + _strides.Length : dim];

    /// <summary>Total number of elements.</summary>
    public long NumElements
    {
        get
        {
            long n = 1;
            foreach (long s in _shape)
            {
                n *= s;
            }
            return n;
        }
    }

    /// <summary>Bytes spanned by the elements when contiguous: <c>NumElements * ElementSize</c>.</summary>
    public long ByteSize => NumElements * DType.ElementSize();

    /// <summary>True when the strides are the row-major strides of the shape.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = _shape.Length - 1; d >= 0; d--)
            {
                if (_shape[d] != 1 && _strides[d] != expected)
                {
                    return false;
                }
                expected *= _shape[d];
            }
            return true;
        }
    }

    /// <summary>A human-readable description such as <c>BFloat16[4096, 7168] on cuda:0</c>.</summary>
    public string Describe() =>
        $"{DType}[{string.Join(", ", _shape)}]{(IsContiguous ? "" : " (strided)")} on {(IsHost ? "host" : $"cuda:{Device}")}{(IsDisposed ? " (disposed)" : "")}";

    /// <inheritdoc />
    public override string ToString() => Describe();

    /// <summary>Row-major strides for <paramref name="shape"/>.</summary>
    public static long[] ContiguousStrides(ReadOnlySpan<long> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    /// <summary>
    /// Allocates an uninitialised contiguous tensor. Device memory comes from the device's stream-ordered
    /// pool on <paramref name="stream"/> (the device's library stream when null).
    /// </summary>
    public static DeviceTensor Empty(DType dtype, ReadOnlySpan<long> shape, int device = HostDevice, CudaStream? stream = null) =>
        EmptyStrided(dtype, shape, ContiguousStrides(shape), device, stream);

    /// <summary>
    /// Allocates an uninitialised tensor with explicit element strides (for example DeepEP's column-major
    /// low-latency scales, strides <c>(S*R*N, 1, R*N)</c>). The tensor owns the smallest block spanning every
    /// element; strides must be non-negative.
    /// </summary>
    public static DeviceTensor EmptyStrided(DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<long> strides, int device = HostDevice, CudaStream? stream = null)
    {
        if (strides.Length != shape.Length)
        {
            throw new ArgumentException($"strides has {strides.Length} entries but shape has {shape.Length}; give one stride per dimension.", nameof(strides));
        }
        for (int d = 0; d < shape.Length; d++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(shape[d], nameof(shape));
            ArgumentOutOfRangeException.ThrowIfNegative(strides[d], nameof(strides));
        }
        long extent = Extent(shape, strides);
        long[] shapeCopy = shape.ToArray();
        long[] stridesCopy = strides.ToArray();
        long bytes = extent * dtype.ElementSize();
        if (device == HostDevice)
        {
            var memory = new HostMemory(bytes);
            return new DeviceTensor(memory.DangerousGetHandle(), shapeCopy, stridesCopy, dtype, device, memory);
        }
        DeviceMemory deviceMemory = DeviceMemory.AllocateAsync(device, bytes, stream);
        return new DeviceTensor(deviceMemory.Pointer, shapeCopy, stridesCopy, dtype, device, deviceMemory);
    }

    /// <summary>
    /// Allocates several uninitialised device tensors (each <c>(dtype, shape, strides)</c>, strides null for row-major)
    /// from one pool allocation, each 256-byte aligned: one allocation and one free instead of one per tensor, which is
    /// what a call with several outputs costs on the host. Each tensor is disposed on its own; the memory returns to
    /// the pool when the last one is.
    /// </summary>
    internal static DeviceTensor[] EmptyGroup(int device, CudaStream? stream, params ReadOnlySpan<(DType DType, long[] Shape, long[]? Strides)> tensors)
    {
        const long alignment = 256;
        var offsets = new long[tensors.Length];
        long total = 0;
        for (int i = 0; i < tensors.Length; i++)
        {
            (DType dtype, long[] shape, long[]? strides) = tensors[i];
            offsets[i] = total;
            total += (Extent(shape, strides ?? ContiguousStrides(shape)) * dtype.ElementSize() + alignment - 1) / alignment * alignment;
        }
        using DeviceMemory block = DeviceMemory.AllocateAsync(device, Math.Max(total, alignment), stream);
        var result = new DeviceTensor[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            (DType dtype, long[] shape, long[]? strides) = tensors[i];
            var lease = new DeviceMemoryLease(block, block.Pointer + (nint)offsets[i]);
            result[i] = new DeviceTensor(lease.DangerousGetHandle(), shape, strides ?? ContiguousStrides(shape), dtype, device, lease);
        }
        return result;
    }

    // Elements from the first to one past the last addressed element (0 for an empty tensor).
    private static long Extent(ReadOnlySpan<long> shape, ReadOnlySpan<long> strides)
    {
        long last = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 0)
            {
                return 0;
            }
            last = checked(last + ((shape[d] - 1) * strides[d]));
        }
        return last + 1;
    }

    /// <summary>Allocates a contiguous tensor filled with zero bytes.</summary>
    public static DeviceTensor Zeros(DType dtype, ReadOnlySpan<long> shape, int device = HostDevice, CudaStream? stream = null)
    {
        DeviceTensor t = Empty(dtype, shape, device, stream);
        t.FillBytes(0, stream);
        return t;
    }

    /// <summary>
    /// Wraps memory owned elsewhere (TorchSharp's <c>Storage.data_ptr()</c>, ONNX Runtime, the caller).
    /// Nothing is copied or freed; the caller keeps the memory alive while the tensor is used.
    /// </summary>
    /// <param name="pointer">Address of element [0, …]; a device pointer when <paramref name="device"/> ≥ 0.</param>
    /// <param name="shape">Dimensions in elements.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="device">CUDA device ordinal, or <see cref="HostDevice"/>.</param>
    /// <param name="strides">Strides in elements; row-major when null.</param>
    public static DeviceTensor FromPointer(nint pointer, ReadOnlySpan<long> shape, DType dtype, int device, ReadOnlySpan<long> strides = default)
    {
        if (pointer == 0 && ElementCount(shape) > 0)
        {
            throw new ArgumentException("A null pointer can only wrap an empty tensor.", nameof(pointer));
        }
        if (!strides.IsEmpty && strides.Length != shape.Length)
        {
            throw new ArgumentException($"strides has {strides.Length} entries but shape has {shape.Length}; give one stride per dimension.", nameof(strides));
        }
        long[] stridesCopy = strides.IsEmpty ? ContiguousStrides(shape) : strides.ToArray();
        return new DeviceTensor(pointer, shape.ToArray(), stridesCopy, dtype, device, owner: null);
    }

    /// <summary>Copies a host array into a new contiguous tensor on <paramref name="device"/>.</summary>
    public static DeviceTensor FromArray<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, int device = HostDevice, DType? dtype = null)
        where T : unmanaged
    {
        DType type = dtype ?? DTypeOf<T>();
        if (Unsafe.SizeOf<T>() != type.ElementSize())
        {
            throw new ArgumentException($"{typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes but {type} elements are {type.ElementSize()}.", nameof(dtype));
        }
        if (ElementCount(shape) != data.Length)
        {
            throw new ArgumentException($"data has {data.Length} elements but shape [{string.Join(", ", shape.ToArray())}] needs {ElementCount(shape)}.", nameof(data));
        }
        DeviceTensor t = Empty(type, shape, device);
        t.CopyFrom(data);
        return t;
    }

    /// <summary>The <see cref="Tensors.DType"/> whose elements are <typeparamref name="T"/>.</summary>
    public static DType DTypeOf<T>()
        where T : unmanaged => typeof(T) switch
        {
            var t when t == typeof(BFloat16) => DType.BFloat16,
            var t when t == typeof(Half) => DType.Float16,
            var t when t == typeof(float) => DType.Float32,
            var t when t == typeof(Float8E4M3) => DType.Float8E4M3,
            var t when t == typeof(int) => DType.Int32,
            var t when t == typeof(long) => DType.Int64,
            var t when t == typeof(byte) => DType.UInt8,
            var t when t == typeof(sbyte) => DType.Int8,
            var t when t == typeof(bool) => DType.Bool,
            _ => throw new ArgumentException($"{typeof(T).Name} is not a tensor element type."),
        };

    /// <summary>A host span over a contiguous host tensor.</summary>
    public unsafe Span<T> AsSpan<T>()
        where T : unmanaged
    {
        if (!IsHost)
        {
            throw new InvalidOperationException($"{Describe()} is on a device; copy it with ToArray or To(HostDevice) first.");
        }
        RequireContiguous();
        return new Span<T>((void*)Pointer, checked((int)(ByteSize / Unsafe.SizeOf<T>())));
    }

    /// <summary>A reference to one element of a host tensor, honouring strides (for reference code and tests).</summary>
    public unsafe ref T At<T>(params ReadOnlySpan<long> index)
        where T : unmanaged
    {
        ThrowIfDisposed();
        if (!IsHost)
        {
            throw new InvalidOperationException($"{Describe()} is on a device; element access needs a host tensor.");
        }
        if (index.Length != Rank || Unsafe.SizeOf<T>() != DType.ElementSize())
        {
            throw new ArgumentException($"At<{typeof(T).Name}> with {index.Length} indices does not fit {Describe()}.", nameof(index));
        }
        long offset = 0;
        for (int d = 0; d < index.Length; d++)
        {
            if ((ulong)index[d] >= (ulong)_shape[d])
            {
                throw new IndexOutOfRangeException($"Index {index[d]} is outside dimension {d} of {Describe()}.");
            }
            offset += index[d] * _strides[d];
        }
        return ref Unsafe.AsRef<T>((void*)(Pointer + (nint)(offset * Unsafe.SizeOf<T>())));
    }

    /// <summary>A contiguous copy on the same device, or a non-owning view when already contiguous.</summary>
    public DeviceTensor Contiguous()
    {
        ThrowIfDisposed();
        return IsContiguous ? Borrow() : To(Device);
    }

    /// <summary>A non-owning view of the same memory with a new shape (contiguous tensors only).</summary>
    public DeviceTensor View(params long[] shape)
    {
        RequireContiguous();
        if (ElementCount(shape) != NumElements)
        {
            throw new ArgumentException($"Cannot view {Describe()} as [{string.Join(", ", shape)}]: element counts differ.", nameof(shape));
        }
        return new DeviceTensor(Pointer, shape.ToArray(), ContiguousStrides(shape), DType, Device, owner: null, _memory);
    }

    /// <summary>A non-owning view with dimensions <paramref name="dim0"/> and <paramref name="dim1"/> swapped.</summary>
    public DeviceTensor Transpose(int dim0, int dim1)
    {
        ThrowIfDisposed();
        long[] shape = _shape.ToArray();
        long[] strides = _strides.ToArray();
        (shape[dim0], shape[dim1]) = (shape[dim1], shape[dim0]);
        (strides[dim0], strides[dim1]) = (strides[dim1], strides[dim0]);
        return new DeviceTensor(Pointer, shape, strides, DType, Device, owner: null, _memory);
    }

    /// <summary>A non-owning view of rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of dimension 0.</summary>
    public DeviceTensor Slice(long start, long count)
    {
        ThrowIfDisposed();
        if (Rank == 0 || start < 0 || count < 0 || start + count > _shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Rows [{start}, {start + count}) are outside {Describe()}.");
        }
        long[] shape = _shape.ToArray();
        shape[0] = count;
        nint pointer = Pointer + (nint)(start * _strides[0] * DType.ElementSize());
        return new DeviceTensor(pointer, shape, _strides.ToArray(), DType, Device, owner: null, _memory);
    }

    /// <summary>Sets every byte of a contiguous tensor to <paramref name="value"/> (use a non-zero value to poison outputs).</summary>
    public unsafe void FillBytes(byte value, CudaStream? stream = null)
    {
        RequireContiguous();
        if (IsHost)
        {
            NativeMemory.Fill((void*)Pointer, (nuint)ByteSize, value);
        }
        else
        {
            DeviceMemory.Fill(Device, Pointer, value, ByteSize, stream);
        }
    }

    /// <summary>Frees the memory if this tensor owns it; either way, later data access through this tensor throws.</summary>
    public void Dispose()
    {
        _disposed = true;
        _owner?.Dispose();
    }

    // Use after free would read freed (or reused) memory: a crash or silent garbage, never an error.
    private void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(nameof(DeviceTensor), $"{Describe()} was disposed (or is a view of a disposed tensor); keep it alive while it is used.");
        }
    }

    private DeviceTensor Borrow() => new(Pointer, _shape, _strides, DType, Device, owner: null, _memory);

    private void RequireContiguous()
    {
        ThrowIfDisposed();
        if (!IsContiguous)
        {
            throw new InvalidOperationException($"{Describe()} is not contiguous; call Contiguous() first.");
        }
    }

    private static long ElementCount(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (long s in shape)
        {
            n = checked(n * s);
        }
        return n;
    }
}
