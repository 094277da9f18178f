#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/quant_format.cuh>
#include <deep_ep/common/utils.cuh>

// The activation casts of the fused MoE layer's expert FFN (docs/fused-moe.md, "Arithmetic" steps 1, 3 and 4), over
// the packed layout [num_experts, rows, width], only each expert's first counts[e] rows (the rest hold stale data):
// - the row is h = bf16(silu(gate) · up) from the first GEMM's fp32 output [.., 2 · width] (gate half first) when
//   kSwiglu, else the BF16 row as dispatched;
// - it is stored as the weights' format says: BF16 as is; INT8 per row (Int8Cast.CastRow); FP8 per 128 channels
//   (Fp8Cast.CastRow, scales not rounded).
// Every operation is the host's in the host's order (IEEE _rn intrinsics, so nothing is contracted into an FMA); only
// expf may differ from .NET's MathF.Exp by an ulp, which can move h by one BF16 ulp.

namespace deep_ep {

constexpr int kSwigluQuantThreads = 256;
DEEPEP_CHECK_CONSTANT(kSwigluQuantThreads, DEEPEP_SWIGLU_QUANT_THREADS);

// C# twin: DeepEP.Runtimes.SwigluQuantParams.
struct SwigluQuantParams {
    const void* x;      // kSwiglu: float [num_experts, rows, 2 * width]; else BF16 [num_experts, rows, width]
    void* q;            // [num_experts, rows, width] BF16, INT8 or E4M3
    float* scales;      // INT8 [num_experts, rows]; FP8 [num_experts, rows, width / 128]; BF16 null
    const int* counts;  // [num_experts] valid rows of each expert
    int rows;
    int width;          // a multiple of 128
};
DEEPEP_CHECK_PARAMS_SIZE(SwigluQuantParams, DEEPEP_SWIGLU_QUANT_PARAMS_SIZE);

namespace swiglu {

constexpr int kWarps = kSwigluQuantThreads / kWarpSize;
constexpr int kPerLane = kFp8ChannelsPerLane;  // a warp per 128-channel group, 4 consecutive channels per lane

// The 4 values of packed row `row` at channels [ch, ch + 4), as the host holds them before its cast.
template <bool kSwiglu>
__device__ __forceinline__ void load_values(const SwigluQuantParams& p, long long row, int ch, float (&v)[kPerLane]) {
    if constexpr (kSwiglu) {
        const float* gate_up = static_cast<const float*>(p.x) + row * 2 * p.width;
        const float4 gate = *reinterpret_cast<const float4*>(gate_up + ch);
        const float4 up = *reinterpret_cast<const float4*>(gate_up + p.width + ch);
        const float g[kPerLane] = {gate.x, gate.y, gate.z, gate.w};
        const float u[kPerLane] = {up.x, up.y, up.z, up.w};
        #pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
            // HostExpertFfn: gate / (1 + exp(-gate)) * up in fp32, rounded once to BF16.
            const float silu = __fdiv_rn(g[i], __fadd_rn(1.0f, expf(-g[i])));
            v[i] = __bfloat162float(__float2bfloat16_rn(__fmul_rn(silu, u[i])));
        }
    } else {
        const uint2 raw = *reinterpret_cast<const uint2*>(static_cast<const __nv_bfloat16*>(p.x) + row * p.width + ch);
        const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
        const float2 lo = __bfloat1622float2(pairs[0]);
        const float2 hi = __bfloat1622float2(pairs[1]);
        v[0] = lo.x;
        v[1] = lo.y;
        v[2] = hi.x;
        v[3] = hi.y;
    }
}

// max(1e-4, max |v|) over the row, every thread gets it. Max is exact in any order.
template <bool kSwiglu>
__device__ __forceinline__ float row_amax(const SwigluQuantParams& p, long long row, float* warp_amax) {
    const int lane = lane_id(), warp = warp_id();
    float amax = 1e-4f;  // the floor is the start value, as in Int8Cast.CastRow
    for (int group = warp; group < p.width / kNumChannelsPerScale; group += kWarps) {
        float v[kPerLane];
        load_values<kSwiglu>(p, row, group * kNumChannelsPerScale + lane * kPerLane, v);
        #pragma unroll
        for (int i = 0; i < kPerLane; ++i)
            amax = fmaxf(amax, fabsf(v[i]));
    }
    amax = warp_reduce_max(amax);
    if (lane == 0)
        warp_amax[warp] = amax;
    __syncthreads();
    amax = warp_amax[0];
    #pragma unroll
    for (int w = 1; w < kWarps; ++w)
        amax = fmaxf(amax, warp_amax[w]);
    __syncthreads();  // the next row rewrites warp_amax
    return amax;
}

}  // namespace swiglu

// Grid (blocks, num_experts), kSwigluQuantThreads threads; block x takes rows x, x + gridDim.x, … below the count.
template <QuantFormat kFormat, bool kSwiglu>
__global__ void __launch_bounds__(kSwigluQuantThreads) swiglu_quant(const SwigluQuantParams p) {
    using namespace swiglu;
    static_assert(kSwiglu || kFormat != QuantFormat::kBf16, "BF16 rows enter the GEMM as dispatched");
    __shared__ float warp_amax[kWarps];
    const int expert = static_cast<int>(blockIdx.y);
    const int count = min(p.counts[expert], p.rows);  // a count past the layout (a caller's bad value) never reads or writes outside it
    const int groups = p.width / kNumChannelsPerScale;
    const int lane = lane_id();

    for (int r = static_cast<int>(blockIdx.x); r < count; r += static_cast<int>(gridDim.x)) {
        const long long row = static_cast<long long>(expert) * p.rows + r;
        float multiplier = 0.0f;
        if constexpr (kFormat == QuantFormat::kInt8) {
            const float amax = row_amax<kSwiglu>(p, row, warp_amax);
            multiplier = __fdiv_rn(127.0f, amax);
            if (threadIdx.x == 0)
                p.scales[row] = __fdiv_rn(amax, 127.0f);
        }
        for (int group = warp_id(); group < groups; group += kWarps) {
            const int ch = group * kNumChannelsPerScale + lane * kPerLane;
            const long long at = row * p.width + ch;
            float v[kPerLane];
            load_values<kSwiglu>(p, row, ch, v);
            if constexpr (kFormat == QuantFormat::kBf16) {
                uint2 out;
                __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&out);
                pairs[0] = __floats2bfloat162_rn(v[0], v[1]);  // exact: v is already BF16
                pairs[1] = __floats2bfloat162_rn(v[2], v[3]);
                *reinterpret_cast<uint2*>(static_cast<__nv_bfloat16*>(p.q) + at) = out;
            } else if constexpr (kFormat == QuantFormat::kInt8) {
                unsigned int packed = 0;
                #pragma unroll
                for (int i = 0; i < kPerLane; ++i) {
                    const int code = min(127, max(-127, __float2int_rn(__fmul_rn(v[i], multiplier))));
                    packed |= (static_cast<unsigned int>(code) & 0xffu) << (8 * i);
                }
                *reinterpret_cast<unsigned int*>(static_cast<signed char*>(p.q) + at) = packed;
            } else {
                float scale_inv;
                const unsigned int packed = cast_group_fp8<false>(v, scale_inv);
                *reinterpret_cast<unsigned int*>(static_cast<unsigned char*>(p.q) + at) = packed;
                if (lane == 0)
                    p.scales[row * groups + group] = scale_inv;
            }
        }
    }
}

}  // namespace deep_ep
