using DeepEP.Cuda;
using DeepEP.Interop;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Cuda;

[Collection(GpuCollection.Name)]
public sealed class PeerAccessTests(GpuFixture gpu)
{
    [Fact]
    public void PeerMatrixIsReportedForEveryPair()
    {
        gpu.Require(devices: 2);
        IReadOnlyList<CudaDevice> devices = CudaDevice.All;
        Assert.Equal(Enumerable.Range(0, gpu.DeviceCount), devices.Select(d => d.Ordinal));
        foreach (CudaDevice a in devices)
        {
            foreach (CudaDevice b in devices)
            {
                (bool access, int? rank, bool atomics) = (a.CanAccessPeer(b), a.PeerPerformanceRank(b), a.SupportsNativePeerAtomics(b));
                TestContext.Current.TestOutputHelper?.WriteLine($"{a} -> {b}: access {access}, rank {rank?.ToString() ?? "-"}, native atomics {atomics}");
                if (a.Ordinal == b.Ordinal)
                {
                    // A device addresses its own memory; there is no link to itself to rank.
                    Assert.Equal<(bool, int?, bool)>((true, null, false), (access, rank, atomics));
                    continue;
                }
                // The same answers as the driver's own queries for the pair.
                Assert.Equal(CuResult.Success, CudaDriver.cuDeviceCanAccessPeer(out int canAccess, a.Ordinal, b.Ordinal));
                Assert.Equal(canAccess != 0, access);
                Assert.Equal(access, Attribute(a, b, CudaDriver.P2PAttributeAccessSupported) != 0);
                Assert.Equal(access ? Attribute(a, b, CudaDriver.P2PAttributePerformanceRank) : (int?)null, rank);
                Assert.Equal(Attribute(a, b, CudaDriver.P2PAttributeNativeAtomicSupported) != 0, atomics);
                Assert.True(rank is null or >= 0, $"{a} -> {b}: performance rank {rank}");
                Assert.False(atomics && !access, $"{a} -> {b}: native atomics without peer access");
            }
        }
    }

    private static int Attribute(CudaDevice a, CudaDevice b, int attribute)
    {
        Assert.Equal(CuResult.Success, CudaDriver.cuDeviceGetP2PAttribute(out int value, attribute, a.Ordinal, b.Ordinal));
        return value;
    }

    [Fact]
    public void PeerCopyMovesDataBetweenDevices()
    {
        gpu.Require(devices: 2);
        CudaDevice d0 = CudaDevice.Get(0);
        CudaDevice d1 = CudaDevice.Get(1);
        Assert.SkipUnless(d0.CanAccessPeer(d1) && d1.CanAccessPeer(d0), "cuda:0 and cuda:1 cannot access each other.");
        d0.EnablePeerAccess(d1);
        d1.EnablePeerAccess(d0);
        d1.EnablePeerAccess(d0); // idempotent
        var random = new Random(7);
        byte[] data = new byte[(8 << 20) + 3];
        random.NextBytes(data);
        using DeviceTensor on0 = DeviceTensor.FromArray<byte>(data, [data.Length], device: 0);
        using DeviceTensor on1 = DeviceTensor.Empty(DType.UInt8, [data.Length], device: 1);
        on1.FillBytes(0xCD);
        // Unified addressing: a copy queued on device 1's stream reads device 0's pool memory directly.
        DeviceMemory.Copy(1, on1.Pointer, on0.Pointer, data.Length);
        Assert.Equal(data, on1.ToArray<byte>());

        // Plain (IPC-exportable) allocations, copied back with explicit contexts.
        using DeviceMemory plain0 = DeviceMemory.Allocate(0, data.Length);
        using DeviceMemory plain1 = DeviceMemory.Allocate(1, data.Length);
        DeviceMemory.Copy(1, plain1.Pointer, on1.Pointer, data.Length);
        DeviceMemory.Fill(0, plain0.Pointer, 0xCD, data.Length, null);
        CudaDevice.Get(0).LibraryStream.Synchronize();
        DeviceMemory.CopyPeerAsync(0, plain0.Pointer, 1, plain1.Pointer, data.Length, null);
        using DeviceTensor back = DeviceTensor.FromPointer(plain0.Pointer, [data.Length], DType.UInt8, 0);
        Assert.Equal(data, back.ToArray<byte>());
    }

    [Fact]
    public void IpcHandleOpensOnAnotherDeviceOrTheDriverSaysWhy()
    {
        gpu.Require(devices: 2);
        using DeviceMemory exported = DeviceMemory.Allocate(0, 1 << 20);
        DeviceMemory.Fill(0, exported.Pointer, 0x3C, 1 << 20, null);
        CudaDevice.Get(0).LibraryStream.Synchronize();
        IpcMemoryHandle handle = IpcMemoryHandle.FromBytes(IpcMemoryHandle.Get(0, exported.Pointer).ToBytes());
        IpcMemoryMapping mapping;
        try
        {
            mapping = handle.Open(1);
        }
        catch (CudaException e)
        {
            // CUDA refuses to open a handle in the process that exported it; in-process ranks use peer access.
            TestContext.Current.TestOutputHelper?.WriteLine($"same-process IPC open refused: {e.Message}");
            Assert.Equal("cuIpcOpenMemHandle_v2", e.ApiName);
            Assert.Skip($"The driver refuses same-process IPC opens ({e.ErrorName}); cross-process IPC needs two processes.");
            return;
        }
        using (mapping)
        {
            using DeviceTensor copy = DeviceTensor.Empty(DType.UInt8, [1 << 20], device: 1);
            DeviceMemory.Copy(1, copy.Pointer, mapping.Pointer, 1 << 20);
            Assert.All(copy.ToArray<byte>(), b => Assert.Equal(0x3C, b));
        }
    }
}
