using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Cuda;

[Collection(GpuCollection.Name)]
public sealed class DeviceMemoryTests(GpuFixture gpu)
{
    [Fact]
    public void ThePoolReportsWhatItHoldsAndWhatIsLive()
    {
        gpu.Require();
        const long Bytes = 64L << 20;
        CudaDevice device = CudaDevice.Get(0);
        device.Synchronize();
        long usedBefore = device.PoolUsedBytes;
        using (DeviceTensor held = DeviceTensor.Empty(DType.UInt8, [Bytes], device: 0))
        {
            Assert.True(device.PoolUsedBytes >= usedBefore + Bytes, $"used {device.PoolUsedBytes} bytes with {Bytes} more live than {usedBefore}");
            Assert.True(device.PoolReservedBytes >= device.PoolUsedBytes, $"reserved {device.PoolReservedBytes} < used {device.PoolUsedBytes}");
        }
        device.Synchronize();
        Assert.True(device.PoolUsedBytes < usedBefore + Bytes, $"used {device.PoolUsedBytes} bytes after the free");
    }

    [Fact]
    public void PoisonedBufferReadsBackPoisoned()
    {
        gpu.Require();
        using DeviceTensor t = DeviceTensor.Empty(DType.UInt8, [1 << 20], device: 0);
        t.FillBytes(0xCD);
        Assert.All(t.ToArray<byte>(), b => Assert.Equal(0xCD, b));
    }

    [Fact]
    public void HostDeviceDeviceHostRoundTripIsExact()
    {
        gpu.Require();
        var random = new Random(1234);
        byte[] data = new byte[(3 << 20) + 17];
        random.NextBytes(data);
        using DeviceTensor a = DeviceTensor.FromArray<byte>(data, [data.Length], device: 0);
        using DeviceTensor b = DeviceTensor.Empty(DType.UInt8, [data.Length], device: 0);
        b.FillBytes(0xCD);
        using DeviceTensor copy = a.To(0);
        Assert.Equal(data, copy.ToArray<byte>());
        DeviceMemory.Copy(0, b.Pointer, a.Pointer, data.Length);
        Assert.Equal(data, b.ToArray<byte>());
    }

    [Fact]
    public void HostCopiesSpanningSeveralStagingChunksAreExact()
    {
        gpu.Require();
        var random = new Random(4321);
        byte[] data = new byte[(2 * StagedHostCopy.ChunkBytes) + 4093];
        random.NextBytes(data);
        using DeviceTensor device = DeviceTensor.FromArray<byte>(data, [data.Length], device: 0);
        using DeviceTensor host = DeviceTensor.Empty(DType.UInt8, [data.Length]);
        host.AsSpan<byte>().Fill(0xCD);
        using (DeviceTensor back = device.To(DeviceTensor.HostDevice))
        {
            Assert.Equal(data, back.AsSpan<byte>().ToArray());
        }
        // From threads at once: each rents its own chunk.
        Parallel.For(0, 4, _ => Assert.Equal(data, device.ToArray<byte>()));
    }

    [Fact]
    public void StridedDeviceViewReadsInLogicalOrder()
    {
        gpu.Require();
        int[] values = Enumerable.Range(0, 12).ToArray();
        using DeviceTensor t = DeviceTensor.FromArray<int>(values, [3, 4], device: 0);
        Assert.Equal(new[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, t.Transpose(0, 1).ToArray<int>());
    }

    [Fact]
    public void ReleasedPoolMemoryIsReusedOnTheSameStream()
    {
        gpu.Require();
        nint first;
        using (DeviceTensor t = DeviceTensor.Empty(DType.UInt8, [64 << 20], device: 0))
        {
            first = t.Pointer;
        }
        using DeviceTensor again = DeviceTensor.Empty(DType.UInt8, [64 << 20], device: 0);
        Assert.Equal(first, again.Pointer);
    }

    [Fact]
    public void PinnedHostMemoryIsVisibleToTheDevice()
    {
        gpu.Require();
        using PinnedHostMemory pinned = PinnedHostMemory.Allocate(0, 4096);
        Assert.NotEqual(0, pinned.DevicePointer);
        Span<int> host = pinned.AsSpan<int>();
        for (int i = 0; i < host.Length; i++)
        {
            host[i] = i * 3;
        }
        using DeviceTensor device = DeviceTensor.Empty(DType.Int32, [1024], device: 0);
        DeviceMemory.Copy(0, device.Pointer, pinned.DevicePointer, 4096);
        Assert.Equal(Enumerable.Range(0, 1024).Select(i => i * 3).ToArray(), device.ToArray<int>());
        DeviceMemory.Fill(0, pinned.DevicePointer, 0xAB, 4096, null);
        CudaDevice.Get(0).LibraryStream.Synchronize();
        Assert.All(pinned.AsSpan<byte>().ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void PlainAllocationsWorkForIpcExport()
    {
        gpu.Require();
        using DeviceMemory memory = DeviceMemory.Allocate(0, 1 << 20);
        IpcMemoryHandle handle = IpcMemoryHandle.Get(0, memory.Pointer);
        byte[] bytes = handle.ToBytes();
        Assert.Equal(IpcMemoryHandle.Size, bytes.Length);
        Assert.Equal(bytes, IpcMemoryHandle.FromBytes(bytes).ToBytes());
        Assert.Contains(bytes, b => b != 0);
    }
}
