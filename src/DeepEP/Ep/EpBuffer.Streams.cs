using DeepEP.Cuda;
using DeepEP.Jit;
using DeepEP.NativeLibraries;

namespace DeepEP.Ep;

/// <summary>
/// DeepEP V1 members about where the kernels run: the communication stream (<c>get_comm_stream</c>) and the
/// architectures the kernels target (<c>is_sm90_compiled</c>). DeepEP compiles its kernels ahead of time; this library
/// compiles them with NVRTC for the GPU it runs on, the first time each is needed.
/// </summary>
public sealed partial class EpBuffer
{
    /// <summary>NVRTC 12.0 is the first to accept <c>sm_90a</c>, the target the kernels are compiled for on Hopper.</summary>
    private static readonly (int Major, int Minor) Sm90Nvrtc = (12, 0);

    /// <summary>
    /// The stream this buffer's communication kernels run on (DeepEP's <c>Buffer.get_comm_stream</c>): a high-priority
    /// stream of <see cref="Device"/> owned by the buffer. Operations called with <c>asyncFinish</c> or
    /// <c>allocateOnCommStream</c> leave work or tensors on it; order your own work after it with an event.
    /// </summary>
    /// <exception cref="InvalidOperationException">The buffer uses the host backend, which has no CUDA stream.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was destroyed or disposed.</exception>
    public CudaStream GetCommStream()
    {
        EnsureUsable();
        return _backend.CommStream ?? throw new InvalidOperationException(
            $"This EpBuffer uses the {Backend} backend, which runs on the CPU and has no communication stream; only the kernels and nccl backends have one.");
    }

    /// <summary>
    /// The architecture this build's kernels target on GPU <paramref name="device"/>. The kernels are not compiled ahead
    /// of time: NVRTC compiles them for the running GPU, so this is that GPU's NVRTC target
    /// (<see cref="ComputeCapability.NvrtcArchitecture"/>), e.g. <c>sm_90a</c> on Hopper (H100, H200).
    /// </summary>
    /// <param name="device">A CUDA device ordinal, 0 to <see cref="CudaDevice.Count"/> - 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="device"/> is negative or not a visible device.</exception>
    /// <exception cref="GpuUnavailableException">No GPU is usable.</exception>
    public static string GetKernelArchitecture(int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, CudaDevice.Count);
        return CudaDevice.Get(device).ComputeCapability.NvrtcArchitecture;
    }

    /// <summary>
    /// Whether the kernels can be built for Hopper (<c>sm_90a</c>), named after DeepEP's <c>Buffer.is_sm90_compiled</c>.
    /// DeepEP answers whether its extension was compiled with SM90 features; here the kernels are JIT-compiled, so this is
    /// true when the NVRTC found (see <c>DEEPEP_NVRTC_LIBRARY</c>) is 12.0 or newer, the first version that targets
    /// <c>sm_90a</c>. False when NVRTC is not found. It says nothing about the GPU present: see
    /// <see cref="GetKernelArchitecture"/>.
    /// </summary>
    public static bool IsSm90Compiled =>
        CanTargetSm90(NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc).Found, () => NvrtcCompiler.Version);

    /// <summary>The rule of <see cref="IsSm90Compiled"/>, with NVRTC's presence and version injected for tests.</summary>
    internal static bool CanTargetSm90(bool nvrtcFound, Func<(int Major, int Minor)> nvrtcVersion) =>
        nvrtcFound && nvrtcVersion().CompareTo(Sm90Nvrtc) >= 0;
}
