namespace DeepEP.Cuda;

/// <summary>How to launch a kernel.</summary>
/// <param name="Grid">Blocks in the grid.</param>
/// <param name="Block">Threads per block.</param>
/// <param name="SharedMemoryBytes">Dynamic shared memory per block, bytes (above 48 KiB the kernel is opted in automatically).</param>
/// <param name="Stream">The stream; the device's library stream when null.</param>
/// <param name="Cooperative">Launch cooperatively (all blocks co-resident; grid-wide sync allowed).</param>
/// <param name="Cluster">Thread-block cluster shape (SM90+); none when null.</param>
internal readonly record struct KernelLaunchConfig(
    Dim3 Grid,
    Dim3 Block,
    int SharedMemoryBytes = 0,
    CudaStream? Stream = null,
    bool Cooperative = false,
    Dim3? Cluster = null);
