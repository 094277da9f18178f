#pragma once

#include <cuda_bf16.h>
#include <deep_ep/common/utils.cuh>

// Per-token symmetric INT8 cast of a BF16 [num_tokens, hidden] tensor: DeepEP-Ascend's dynamic INT8 quantisation
// inside normal dispatch. Bit for bit DeepEP.Tensors.Int8Cast.CastRow: amax = max(1e-4, max |x|),
// q = clamp(rne(x * (127 / amax)), -127, 127), scale = amax / 127, each operation rounded to nearest as in C#.

namespace deep_ep {

constexpr int kInt8CastThreads = 256;
DEEPEP_CHECK_CONSTANT(kInt8CastThreads, DEEPEP_INT8_CAST_THREADS);

// C# twin: DeepEP.Runtimes.Int8CastParams.
struct Int8CastParams {
    const __nv_bfloat16* x;  // [num_tokens, x_row_stride]; hidden values per row are read
    signed char* q;          // [num_tokens, hidden] contiguous
    float* scales;           // [num_tokens]
    long long x_row_stride;  // elements between rows of x
    int num_tokens;
    int hidden;
};
DEEPEP_CHECK_PARAMS_SIZE(Int8CastParams, DEEPEP_INT8_CAST_PARAMS_SIZE);

// One block per token. A maximum is exact in any order, so the reduction needs no fixed order to match the host.
__global__ void __launch_bounds__(kInt8CastThreads) int8_cast(const Int8CastParams p) {
    constexpr int kWarps = kInt8CastThreads / kWarpSize;
    __shared__ float warp_amax[kWarps];
    for (int t = blockIdx.x; t < p.num_tokens; t += gridDim.x) {
        const __nv_bfloat16* row = p.x + t * p.x_row_stride;
        float amax = 1e-4f;  // the floor is the start value, as in the reference
        for (int i = threadIdx.x; i < p.hidden; i += kInt8CastThreads)
            amax = fmaxf(amax, fabsf(__bfloat162float(row[i])));
        for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
            amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
        if (lane_id() == 0)
            warp_amax[warp_id()] = amax;
        __syncthreads();
        amax = warp_amax[0];
        #pragma unroll
        for (int w = 1; w < kWarps; ++w)
            amax = fmaxf(amax, warp_amax[w]);
        __syncthreads();  // the next token rewrites warp_amax

        const float multiplier = __fdiv_rn(127.0f, amax);
        signed char* q = p.q + static_cast<long long>(t) * p.hidden;
        for (int i = threadIdx.x; i < p.hidden; i += kInt8CastThreads) {
            const int code = __float2int_rn(__fmul_rn(__bfloat162float(row[i]), multiplier));
            q[i] = static_cast<signed char>(min(127, max(-127, code)));
        }
        if (threadIdx.x == 0)
            p.scales[t] = __fdiv_rn(amax, 127.0f);
    }
}

}  // namespace deep_ep
