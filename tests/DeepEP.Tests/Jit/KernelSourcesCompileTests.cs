using DeepEP.Interop;
using DeepEP.Jit;
using DeepEP.NativeLibraries;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Jit;

/// <summary>
/// Every kernel family compiles with NVRTC for Hopper (sm_90, and sm_90a where NVRTC is 12 or newer), with the parameter-struct sizes the host passes: a compile
/// error or a C#/C++ struct mismatch shows up here, before a GPU is involved. Needs NVRTC and the CUDA headers (a
/// GPU is not needed); skips where they are missing, as on CI.
/// </summary>
public sealed class KernelSourcesCompileTests
{
    public static TheoryData<string, string> Kernels => new()
    {
        { "deep_ep/impls/rank_barrier.cuh", "deep_ep::barrier" },
        { "deep_ep/impls/dispatch_layout.cuh", "deep_ep::get_dispatch_layout" },
        { "deep_ep/impls/channel_layout.cuh", "deep_ep::channel_layout" },
        { "deep_ep/impls/notify_dispatch.cuh", "deep_ep::notify_dispatch" },
        { "deep_ep/impls/intranode_dispatch.cuh", "deep_ep::intranode_dispatch<896>" },
        { "deep_ep/impls/intranode_combine.cuh", "deep_ep::intranode_combine<896>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch_send<7168, true, false>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch_send<2560, false, true>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch_recv<7168, true, true>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch_recv<384, false, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine_send<7168, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine_recv<128, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine_send<7168, true>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine_recv<2048, true>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch<7168, true, true, true>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine<7168, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine<7168, true>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine<32768, true>" },
        { "deep_ep/impls/nccl_staging.cuh", "deep_ep::nccl_pack" },
        { "deep_ep/impls/nccl_staging.cuh", "deep_ep::nccl_reduce" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_pack" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_unpack" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_gather<false>" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_gather<true>" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_reduce<false>" },
        { "deep_ep/impls/nccl_low_latency.cuh", "deep_ep::nccl_low_latency_reduce<true>" },
        { "deep_ep/impls/logfmt_codec.cuh", "deep_ep::logfmt_encode" },
        { "deep_ep/impls/logfmt_codec.cuh", "deep_ep::logfmt_decode" },
        { "deep_ep/impls/fp8_cast.cuh", "deep_ep::fp8_cast<7168, true, true>" },
        { "deep_ep/impls/int8_cast.cuh", "deep_ep::int8_cast" },
        { "deep_ep/impls/inclusive_scan.cuh", "deep_ep::inclusive_scan" },
        { "deep_ep/impls/expert_expansion.cuh", "deep_ep::expansion_count" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kBf16, float>" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kBf16, __nv_bfloat16>" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kInt8, float>" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kInt8, __nv_bfloat16>" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kFp8, float>" },
        { "deep_ep/impls/grouped_gemm.cuh", "deep_ep::grouped_gemm<deep_ep::QuantFormat::kFp8, __nv_bfloat16>" },
        { "deep_ep/impls/swiglu_quant.cuh", "deep_ep::swiglu_quant<deep_ep::QuantFormat::kInt8, false>" },
        { "deep_ep/impls/swiglu_quant.cuh", "deep_ep::swiglu_quant<deep_ep::QuantFormat::kFp8, false>" },
        { "deep_ep/impls/swiglu_quant.cuh", "deep_ep::swiglu_quant<deep_ep::QuantFormat::kBf16, true>" },
        { "deep_ep/impls/swiglu_quant.cuh", "deep_ep::swiglu_quant<deep_ep::QuantFormat::kInt8, true>" },
        { "deep_ep/impls/swiglu_quant.cuh", "deep_ep::swiglu_quant<deep_ep::QuantFormat::kFp8, true>" },
        { "deep_ep/impls/fp8_block_cast.cuh", "deep_ep::fp8_block_cast" },
    };

    public static TheoryData<string, string> TracedKernels => new()
    {
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch<7168, true, false, false>" },
        { "deep_ep/impls/low_latency_dispatch.cuh", "deep_ep::low_latency_dispatch_recv<7168, true, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine<7168, false>" },
        { "deep_ep/impls/low_latency_combine.cuh", "deep_ep::low_latency_combine_send<7168, true>" },
        { "deep_ep/impls/notify_dispatch.cuh", "deep_ep::notify_dispatch" },
        { "deep_ep/impls/intranode_dispatch.cuh", "deep_ep::intranode_dispatch<896>" },
        { "deep_ep/impls/intranode_combine.cuh", "deep_ep::intranode_combine<896>" },
        { "deep_ep/impls/rank_barrier.cuh", "deep_ep::barrier" },
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesForHopper(string header, string expression) =>
        CompileForHopper(header, expression, KernelDefines.All, entry => Assert.DoesNotContain(PhaseTrace.Symbol, CubinText(entry)));

    /// <summary>With <c>DEEPEP_PHASE_TRACE</c> (<c>deepep bench --phases</c>) the communication kernels compile and their module holds the sums.</summary>
    [Theory]
    [MemberData(nameof(TracedKernels))]
    public void CompilesWithPhaseTimers(string header, string expression) =>
        CompileForHopper(header, expression, [.. KernelDefines.All, PhaseTrace.Define], entry => Assert.Contains(PhaseTrace.Symbol, CubinText(entry)));

    private static void CompileForHopper(string header, string expression, IReadOnlyList<KeyValuePair<string, string>> defines, Action<KernelCacheEntry> check)
    {
        Assert.SkipUnless(NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc).Found, "NVRTC is not installed here.");
        Assert.SkipWhen(CudaIncludeLocator.FindForProcess().IncludeFolders.Count == 0, "The CUDA headers (cuda_bf16.h, cuda_fp8.h) are not installed here; set CUDA_HOME.");
        string cache = Directory.CreateTempSubdirectory("deepep-compile-").FullName;
        try
        {
            var compiler = new KernelCompiler(cache);
            // sm_90a (what a Hopper GPU gets, with its wgmma paths) needs NVRTC 12; plain sm_90 takes the other paths.
            string[] architectures = NvrtcCompiler.Version.Major >= 12 ? ["sm_90", "sm_90a"] : ["sm_90"];
            foreach (string architecture in architectures)
            {
                KernelCacheEntry entry = compiler.Compile(KernelProgram.Create(expression, [header], defines, [expression]), architecture);
                Assert.True(entry.LoweredNames.ContainsKey(expression), $"{expression} for {architecture}");
                check(entry);
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    // The CUBIN's symbol names, as Latin-1 text.
    private static string CubinText(KernelCacheEntry entry) => System.Text.Encoding.Latin1.GetString(entry.Cubin);
}
