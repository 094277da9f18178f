using DeepEP.NativeLibraries;

namespace DeepEP.Interop;

/// <summary>
/// CUDA driver API (<c>libcuda.so.1</c>). Every entry returns the native <see cref="CuResult"/>; callers check it
/// with <c>CudaCheck.Check</c>. Handles (<c>CUcontext</c>, <c>CUstream</c>, …) are <see cref="nint"/>; device
/// pointers (<c>CUdeviceptr</c>) are <see cref="nint"/> too, as unified addressing makes them 64-bit addresses.
/// </summary>
internal static partial class CudaDriver
{
    /// <summary>The name the declarations bind to; <see cref="NativeLibraryResolver"/> maps it to a file.</summary>
    public const string Library = NativeLibraryResolver.CudaLibraryName;

    static CudaDriver() => NativeLibraryResolver.Register();
}
