namespace DeepEP.NativeLibraries;

/// <summary>The native libraries the library binds to.</summary>
internal enum NativeLibraryKind
{
    /// <summary>The CUDA driver, <c>libcuda.so.1</c>.</summary>
    Cuda,

    /// <summary>The runtime compiler, <c>libnvrtc.so.&lt;major&gt;</c>.</summary>
    Nvrtc,

    /// <summary>NCCL, <c>libnccl.so.2</c>.</summary>
    Nccl,
}
