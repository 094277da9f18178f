using System.Runtime.InteropServices;
using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary><see cref="DeviceTensor.ToArray{T}"/>: elements of the tensor's size, or the raw bytes of any type.</summary>
public sealed class DeviceTensorCopyTests
{
    [Fact]
    public void ByteArrayIsTheRawBytesOfAnyElementType()
    {
        float[] values = [1.5f, -2.25f, 3e-8f, float.MaxValue, -0f, 7f];
        using DeviceTensor t = DeviceTensor.FromArray<float>(values, [2, 3]);
        Assert.Equal(MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), t.ToArray<byte>());
        // Strided: the logical order's bytes, element by element.
        using DeviceTensor transposed = t.Transpose(0, 1);
        float[] logical = transposed.ToArray<float>();
        Assert.Equal([1.5f, float.MaxValue, -2.25f, -0f, 3e-8f, 7f], logical);
        Assert.Equal(MemoryMarshal.AsBytes(logical.AsSpan()).ToArray(), transposed.ToArray<byte>());
    }

    [Fact]
    public void AnotherTypeOfTheWrongSizeIsRefusedByName()
    {
        using DeviceTensor t = DeviceTensor.FromArray<float>([1f, 2f], [2]);
        ArgumentException error = Assert.Throws<ArgumentException>(() => t.ToArray<short>());
        Assert.Contains("Float32 elements are 4", error.Message);
        Assert.Contains("byte for the raw bytes", error.Message);
    }
}
