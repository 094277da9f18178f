using DeepEP.Tensors;

namespace DeepEP.Tests.Tensors;

/// <summary><see cref="DeviceTensor.EmptyStrided"/>: owning tensors with explicit strides, such as DeepEP's column-major scales.</summary>
public sealed class DeviceTensorStridedTests
{
    [Fact]
    public void StridedTensorHoldsEveryElementAtItsOwnOffset()
    {
        // [E_l, R*N, S] stored as [E_l][S][R*N], the low-latency scales layout.
        using DeviceTensor scales = DeviceTensor.EmptyStrided(DType.Int32, [2, 3, 4], [12, 1, 3]);
        Assert.False(scales.IsContiguous);
        for (int e = 0; e < 2; e++)
        {
            for (int row = 0; row < 3; row++)
            {
                for (int s = 0; s < 4; s++)
                {
                    scales.At<int>(e, row, s) = (100 * e) + (10 * row) + s;
                }
            }
        }
        int[] logical = scales.ToArray<int>();
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (100 * (i / 12)) + (10 * (i / 4 % 3)) + (i % 4)), logical);
        // The owned block spans exactly the last offset, 1*12 + 2*1 + 3*3 = 23, and each element sits at its strided offset.
        int[] storage = DeviceTensor.FromPointer(scales.Pointer, [24], DType.Int32, DeviceTensor.HostDevice).ToArray<int>();
        for (int e = 0; e < 2; e++)
        {
            for (int row = 0; row < 3; row++)
            {
                for (int s = 0; s < 4; s++)
                {
                    Assert.Equal((100 * e) + (10 * row) + s, storage[(12 * e) + row + (3 * s)]);
                }
            }
        }
    }

    [Fact]
    public void EmptyStridedTensorsNeedNoStorage()
    {
        using DeviceTensor empty = DeviceTensor.EmptyStrided(DType.Float32, [0, 3], [1, 0]);
        Assert.Equal(0, empty.NumElements);
        Assert.Empty(empty.ToArray<float>());
    }
}
