using DeepEP.Cuda;

namespace DeepEP.Tests.Gpu.Cuda;

[Collection(GpuCollection.Name)]
public sealed class DeviceInfoTests(GpuFixture gpu)
{
    [Fact]
    public void EveryDeviceReportsSaneProperties()
    {
        gpu.Require();
        Assert.True(CudaDevice.DriverVersion >= 12000, $"driver CUDA version {CudaDevice.DriverVersion}");
        foreach (CudaDevice device in CudaDevice.All)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{device}: {device.Name}, {device.MultiprocessorCount} SMs, {device.TotalMemoryBytes / (1 << 20)} MiB, sm {device.ComputeCapability}, uuid {device.Uuid}, pci {device.PciAddress}");
            Assert.False(string.IsNullOrWhiteSpace(device.Name));
            Assert.InRange(device.MultiprocessorCount, 1, 1024);
            Assert.True(device.TotalMemoryBytes > 1L << 30);
            Assert.True(device.ComputeCapability >= new ComputeCapability(7, 0));
            Assert.Equal(32, device.GetAttribute(CudaDeviceAttribute.WarpSize));
            Assert.Equal(1, device.GetAttribute(CudaDeviceAttribute.UnifiedAddressing));
            Assert.NotEqual(Guid.Empty, device.Uuid);
        }
        Assert.Equal(CudaDevice.Count, CudaDevice.All.Select(d => d.Uuid).Distinct().Count());
    }

    [Fact]
    public void ActivateRestoresThePreviousContext()
    {
        gpu.Require();
        CudaDevice device = CudaDevice.Get(CudaDevice.Count - 1);
        CudaDevice.Get(0).MakeCurrent();
        using (device.Activate())
        {
            using (CudaDevice.Get(0).Activate())
            {
            }
        }
        // Allocating on the library stream of device 0 works with device 0 current again.
        using DeepEP.Tensors.DeviceTensor t = DeepEP.Tensors.DeviceTensor.Zeros(DeepEP.Tensors.DType.Int32, [4], device: 0);
        Assert.Equal(new int[4], t.ToArray<int>());
    }
}
