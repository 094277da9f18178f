using DeepEP.Cuda;
using DeepEP.Jit;
using DeepEP.Runtimes;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Jit;

[Collection(GpuCollection.Name)]
public sealed class KernelCompilerTests(GpuFixture gpu)
{
    private const string ProbeSource = """
        #include <deep_ep/common/ptx.cuh>
        #include <deep_ep/common/timeout.cuh>

        namespace deep_ep_test {

        // Exercises every PTX helper once; out[i] gets the values the host checks.
        __global__ void ptx_probe(int* buffer, long long* wide, int* out) {
            using namespace deep_ep;
            ptx::st_release_sys(buffer, 11);
            out[0] = ptx::ld_acquire_sys(buffer);
            ptx::st_release_gpu(buffer + 1, 12);
            out[1] = ptx::ld_acquire_gpu(buffer + 1);
            ptx::st_relaxed_sys(buffer + 2, 13);
            ptx::fence_acq_rel_sys();
            ptx::fence_acq_rel_gpu();
            out[2] = ptx::ld_relaxed_sys(buffer + 2);
            out[3] = ptx::ld_volatile(buffer + 2);
            out[4] = ptx::atomic_add_release_sys(buffer + 3, 5) + 100;
            ptx::st_release_sys(wide, 1LL << 40);
            ptx::st_relaxed_sys(wide + 1, 7LL);
            out[5] = static_cast<int>(ptx::ld_acquire_sys(wide) >> 40);
            const int2 two = ptx::ld_nc_no_allocate(reinterpret_cast<const int2*>(buffer + 8));
            const int4 four = ptx::ld_nc_no_allocate(reinterpret_cast<const int4*>(buffer + 12));
            ptx::st_no_allocate(reinterpret_cast<int4*>(out + 8), four);
            out[6] = two.x + two.y;
            out[7] = ptx::globaltimer() != 0ull ? 1 : 0;
        }

        // Waits for a flag nobody sets: must give up after the deadline and fill the diagnostics block.
        __global__ void timeout_probe(const int* flag, deep_ep::KernelDiagnostics* diagnostics, unsigned long long timeout_ns) {
            using namespace deep_ep;
            const Deadline deadline = Deadline::start(timeout_ns);
            wait_at_least_sys(flag, 1, deadline, diagnostics, 3, 5, static_cast<int>(threadIdx.x), 42);
        }

        }  // namespace deep_ep_test
        """;

    private static KernelProgram Probe => new("ptx_probe", string.Concat(KernelDefines.All.Select(d => $"#define {d.Key} {d.Value}\n")) + ProbeSource, ["deep_ep_test::ptx_probe", "deep_ep_test::timeout_probe"]);

    [Fact]
    public void SecondCompileIsACacheHitInMemoryThenOnDisk()
    {
        gpu.Require();
        string architecture = CudaDevice.Get(0).ComputeCapability.NvrtcArchitecture;
        string folder = Path.Combine(gpu.CacheDirectory, "hits");
        var first = new KernelCompiler(folder);
        KernelCacheEntry compiled = first.Compile(Probe, architecture);
        Assert.Equal(1, first.Compilations);
        Assert.Same(compiled, first.Compile(Probe, architecture));
        Assert.Equal(1, first.MemoryHits);
        Assert.True(File.Exists(Path.Combine(first.DiskCache.EntryFolder(compiled.Key), "kernel.cubin")));

        var second = new KernelCompiler(folder);
        KernelCacheEntry fromDisk = second.Compile(Probe, architecture);
        Assert.Equal(0, second.Compilations);
        Assert.Equal(1, second.DiskHits);
        Assert.Equal(compiled.Cubin, fromDisk.Cubin);
        Assert.Equal(compiled.LoweredNames, fromDisk.LoweredNames);
        TestContext.Current.TestOutputHelper?.WriteLine($"NVRTC {NvrtcCompiler.Version}, options: {string.Join(' ', compiled.Options)}, cubin {compiled.Cubin.Length} bytes");
    }

    [Fact]
    public void BrokenSourceThrowsWithTheCompilerLog()
    {
        gpu.Require();
        var compiler = new KernelCompiler(Path.Combine(gpu.CacheDirectory, "broken"));
        var program = new KernelProgram(
            "broken",
            "#include <deep_ep/common/utils.cuh>\nnamespace t { template <int N> __global__ void k(int* p) { p[0] = N + undeclared_name; } }\n",
            ["t::k<3>"]);
        var e = Assert.Throws<KernelCompilationException>(() => compiler.Compile(program, CudaDevice.Get(0).ComputeCapability.NvrtcArchitecture));
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        Assert.Contains("undeclared_name", e.Log, StringComparison.Ordinal);
        Assert.Contains("broken", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, compiler.Compilations);
        Assert.False(Directory.Exists(Path.Combine(gpu.CacheDirectory, "broken", "kernels")) &&
                     Directory.EnumerateFileSystemEntries(Path.Combine(gpu.CacheDirectory, "broken", "kernels")).Any());
    }

    [Fact]
    public void PtxHelpersBehaveAsDocumented()
    {
        gpu.Require();
        var compiler = new KernelCompiler(Path.Combine(gpu.CacheDirectory, "probe"));
        CudaKernel kernel = compiler.GetKernel(Probe, "deep_ep_test::ptx_probe", CudaDevice.Get(0));
        int[] initial = new int[16];
        initial[3] = 1;
        initial[8] = 20;
        initial[9] = 22;
        for (int i = 0; i < 4; i++)
        {
            initial[12 + i] = 1000 + i;
        }
        using DeviceTensor buffer = DeviceTensor.FromArray<int>(initial, [16], device: 0);
        using DeviceTensor wide = DeviceTensor.Zeros(DType.Int64, [2], device: 0);
        using DeviceTensor output = DeviceTensor.Empty(DType.Int32, [12], device: 0);
        output.FillBytes(0xCD);
        nint bufferPointer = buffer.Pointer, widePointer = wide.Pointer, outPointer = output.Pointer;
        unsafe
        {
            kernel.Launch(new KernelLaunchConfig(1, 1), [(nint)(&bufferPointer), (nint)(&widePointer), (nint)(&outPointer)]);
        }
        int[] result = output.ToArray<int>();
        Assert.Equal(new[] { 11, 12, 13, 13, 101, 1, 42, 1, 1000, 1001, 1002, 1003 }, result);
        Assert.Equal(6, buffer.ToArray<int>()[3]);
        Assert.Equal(new[] { 1L << 40, 7L }, wide.ToArray<long>());
    }

    [Fact]
    public void ExpiredWaitFillsTheHostMappedDiagnostics()
    {
        gpu.Require();
        var compiler = new KernelCompiler(Path.Combine(gpu.CacheDirectory, "probe"));
        CudaKernel kernel = compiler.GetKernel(Probe, "deep_ep_test::timeout_probe", CudaDevice.Get(0));
        using DeviceTensor flag = DeviceTensor.Zeros(DType.Int32, [1], device: 0);
        using PinnedHostMemory block = PinnedHostMemory.Allocate(0, KernelDiagnostics.Size);
        nint flagPointer = flag.Pointer, diagnosticsPointer = block.DevicePointer;
        ulong timeout = 2_000_000; // 2 ms
        unsafe
        {
            kernel.Launch(new KernelLaunchConfig(1, 64), [(nint)(&flagPointer), (nint)(&diagnosticsPointer), (nint)(&timeout)]);
        }
        CudaDevice.Get(0).LibraryStream.Synchronize();
        KernelDiagnostics diagnostics = KernelDiagnostics.Read(block.AsSpan<byte>());
        TestContext.Current.TestOutputHelper?.WriteLine(diagnostics.Describe("the probe flag"));
        Assert.Equal(1, diagnostics.TimedOut);
        Assert.Equal(3, diagnostics.Rank);
        Assert.Equal(5, diagnostics.PeerRank);
        Assert.InRange(diagnostics.Channel, 0, 63);
        Assert.Equal(42, (int)diagnostics.What);
        Assert.Equal(1, diagnostics.Expected);
        Assert.Equal(0, diagnostics.Seen);
        Assert.True(diagnostics.ElapsedNs >= timeout);
    }

    [Fact]
    public void CooperativeAndClusterLaunchesRun()
    {
        gpu.Require();
        CudaDevice device = CudaDevice.Get(0);
        Assert.SkipUnless(device.GetAttribute(CudaDeviceAttribute.ClusterLaunch) == 1, "No thread-block clusters on this device.");
        var compiler = new KernelCompiler(Path.Combine(gpu.CacheDirectory, "probe"));
        CudaKernel kernel = compiler.GetKernel(Probe, "deep_ep_test::timeout_probe", device);
        using DeviceTensor flag = DeviceTensor.FromArray<int>([1], [1], device: 0);
        using PinnedHostMemory block = PinnedHostMemory.Allocate(0, KernelDiagnostics.Size);
        nint flagPointer = flag.Pointer, diagnosticsPointer = block.DevicePointer;
        ulong timeout = 1_000_000_000;
        unsafe
        {
            nint[] arguments = [(nint)(&flagPointer), (nint)(&diagnosticsPointer), (nint)(&timeout)];
            kernel.Launch(new KernelLaunchConfig(4, 32, Cooperative: true), arguments);
            kernel.Launch(new KernelLaunchConfig(4, 32, Cluster: new Dim3(2)), arguments);
        }
        device.LibraryStream.Synchronize();
        Assert.Equal(0, KernelDiagnostics.Read(block.AsSpan<byte>()).TimedOut);
        Assert.True(kernel.MaxActiveBlocksPerMultiprocessor(32) > 0);
    }
}
