namespace DeepEP.Cuda;

/// <summary>Device attributes (the driver's <c>CUdevice_attribute</c> values) for <see cref="CudaDevice.GetAttribute"/>.</summary>
public enum CudaDeviceAttribute
{
    /// <summary>Threads per block, at most.</summary>
    MaxThreadsPerBlock = 1,

    /// <summary>Static shared memory per block, in bytes.</summary>
    MaxSharedMemoryPerBlock = 8,

    /// <summary>Threads per warp.</summary>
    WarpSize = 10,

    /// <summary>Streaming multiprocessors.</summary>
    MultiprocessorCount = 16,

    /// <summary>1 when host memory can be mapped into the device address space.</summary>
    CanMapHostMemory = 19,

    /// <summary>PCI bus id.</summary>
    PciBusId = 33,

    /// <summary>PCI device id.</summary>
    PciDeviceId = 34,

    /// <summary>Memory clock, kHz.</summary>
    MemoryClockRate = 36,

    /// <summary>Memory bus width, bits.</summary>
    GlobalMemoryBusWidth = 37,

    /// <summary>L2 cache, bytes.</summary>
    L2CacheSize = 38,

    /// <summary>Resident threads per SM, at most.</summary>
    MaxThreadsPerMultiprocessor = 39,

    /// <summary>1 when the device shares a unified address space with the host.</summary>
    UnifiedAddressing = 41,

    /// <summary>PCI domain id.</summary>
    PciDomainId = 50,

    /// <summary>Compute capability, major.</summary>
    ComputeCapabilityMajor = 75,

    /// <summary>Compute capability, minor.</summary>
    ComputeCapabilityMinor = 76,

    /// <summary>Shared memory per SM, bytes.</summary>
    MaxSharedMemoryPerMultiprocessor = 81,

    /// <summary>1 when cooperative launches are supported.</summary>
    CooperativeLaunch = 95,

    /// <summary>Shared memory a block may opt in to, bytes.</summary>
    MaxSharedMemoryPerBlockOptin = 97,

    /// <summary>1 when stream-ordered memory pools are supported.</summary>
    MemoryPoolsSupported = 115,

    /// <summary>1 when thread-block clusters can be launched.</summary>
    ClusterLaunch = 120,
}
