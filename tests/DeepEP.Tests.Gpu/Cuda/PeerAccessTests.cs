using DeepEP.Cuda;
using DeepEP.Interop;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Cuda;

/// <summary>
/// Peer access between the first and the last visible device: two GPUs where there are two, else one device with
/// itself (the pair ranks sharing a GPU use), through the same calls.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class PeerAccessTests(GpuFixture gpu)
{
    [Fact]
    public void PeerMatrixIsReportedForEveryPair()
    {
        gpu.Require();
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
        gpu.Require();
        int last = gpu.DeviceCount - 1;
        CudaDevice d0 = CudaDevice.Get(0);
        CudaDevice d1 = CudaDevice.Get(last);
        Assert.SkipUnless(d0.CanAccessPeer(d1) && d1.CanAccessPeer(d0), $"cuda:0 and cuda:{last} cannot access each other.");
        d0.EnablePeerAccess(d1);
        d1.EnablePeerAccess(d0);
        d1.EnablePeerAccess(d0); // idempotent
        var random = new Random(7);
        byte[] data = new byte[(8 << 20) + 3];
        random.NextBytes(data);
        using DeviceTensor on0 = DeviceTensor.FromArray<byte>(data, [data.Length], device: 0);
        using DeviceTensor on1 = DeviceTensor.Empty(DType.UInt8, [data.Length], device: last);
        on1.FillBytes(0xCD);
        // Unified addressing: a copy queued on the last device's stream reads device 0's pool memory directly.
        DeviceMemory.Copy(last, on1.Pointer, on0.Pointer, data.Length);
        Assert.Equal(data, on1.ToArray<byte>());

        // Plain (IPC-exportable) allocations, copied back with explicit contexts.
        using DeviceMemory plain0 = DeviceMemory.Allocate(0, data.Length);
        using DeviceMemory plain1 = DeviceMemory.Allocate(last, data.Length);
        DeviceMemory.Copy(last, plain1.Pointer, on1.Pointer, data.Length);
        DeviceMemory.Fill(0, plain0.Pointer, 0xCD, data.Length, null);
        CudaDevice.Get(0).LibraryStream.Synchronize();
        DeviceMemory.CopyPeerAsync(0, plain0.Pointer, last, plain1.Pointer, data.Length, null);
        using DeviceTensor back = DeviceTensor.FromPointer(plain0.Pointer, [data.Length], DType.UInt8, 0);
        Assert.Equal(data, back.ToArray<byte>());
    }

    [Fact]
    public void IpcHandleRoundTripsAndOpensOnTheLastDeviceOrTheDriverSaysWhy()
    {
        gpu.Require();
        int last = gpu.DeviceCount - 1;
        using DeviceMemory exported = DeviceMemory.Allocate(0, 1 << 20);
        DeviceMemory.Fill(0, exported.Pointer, 0x3C, 1 << 20, null);
        CudaDevice.Get(0).LibraryStream.Synchronize();
        IpcMemoryHandle handle = IpcMemoryHandle.FromBytes(IpcMemoryHandle.Get(0, exported.Pointer).ToBytes());
        IpcMemoryMapping mapping;
        try
        {
            mapping = handle.Open(last);
        }
        catch (CudaException e)
        {
            // CUDA may refuse to open a handle in the process that exported it (ranks in one process use peer access;
            // the process-model tests open handles across processes): the refusal must name the call.
            TestContext.Current.TestOutputHelper?.WriteLine($"same-process IPC open refused: {e.Message}");
            Assert.Equal("cuIpcOpenMemHandle_v2", e.ApiName);
            return;
        }
        using (mapping)
        {
            using DeviceTensor copy = DeviceTensor.Empty(DType.UInt8, [1 << 20], device: last);
            DeviceMemory.Copy(last, copy.Pointer, mapping.Pointer, 1 << 20);
            Assert.All(copy.ToArray<byte>(), b => Assert.Equal(0x3C, b));
        }
    }
}
