using DeepEP.Tensors;

namespace DeepEP.Backends.Host;

/// <summary>
/// The host backend's stand-ins for DeepEP's NVL and RDMA buffers: zeroed host memory of the sizes the buffer was
/// created with, allocated at the first <c>GetLocalBufferTensor</c> that asks for it. No operation of the host backend
/// uses them (its exchanges go through the process group), so they are this rank's scratch space with DeepEP's addressing.
/// </summary>
internal sealed class HostCommBuffers(long numNvlBytes, long numRdmaBytes) : IDisposable
{
    private readonly Lazy<HostMemory> _nvl = new(() => Zeroed(numNvlBytes));
    private readonly Lazy<HostMemory> _rdma = new(() => Zeroed(numRdmaBytes));

    /// <summary>The whole buffer as a 1-D UInt8 host view.</summary>
    public DeviceTensor Bytes(bool useRdmaBuffer)
    {
        (Lazy<HostMemory> buffer, long bytes) = useRdmaBuffer ? (_rdma, numRdmaBytes) : (_nvl, numNvlBytes);
        HostMemory memory = buffer.Value;
        return DeviceTensor.BytesOf(memory, memory.DangerousGetHandle(), bytes, DeviceTensor.HostDevice);
    }

    public void Dispose()
    {
        if (_nvl.IsValueCreated)
        {
            _nvl.Value.Dispose();
        }
        if (_rdma.IsValueCreated)
        {
            _rdma.Value.Dispose();
        }
    }

    private static unsafe HostMemory Zeroed(long bytes)
    {
        var memory = new HostMemory(bytes);
        System.Runtime.InteropServices.NativeMemory.Clear((void*)memory.DangerousGetHandle(), (nuint)memory.Bytes);
        return memory;
    }
}
