#pragma once

#include <cuda_bf16.h>

// BF16 helpers of the reducing kernels: sums are kept in fp32 and rounded to BF16 once (spec §0).

namespace deep_ep {

// Adds the eight BF16 values of one 16-byte word to eight fp32 sums, element by element.
__device__ __forceinline__ void add_bf16x8(float (&acc)[8], const int4& word) {
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&word);
    #pragma unroll
    for (int j = 0; j < 4; ++j) {
        const float2 f = __bfloat1622float2(pairs[j]);
        acc[2 * j] += f.x;
        acc[2 * j + 1] += f.y;
    }
}

// Rounds eight fp32 sums to BF16 (round-to-nearest-even) and packs them into one 16-byte word.
__device__ __forceinline__ int4 round_bf16x8(const float (&acc)[8]) {
    int4 out;
    __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&out);
    #pragma unroll
    for (int j = 0; j < 4; ++j)
        pairs[j] = __floats2bfloat162_rn(acc[2 * j], acc[2 * j + 1]);
    return out;
}

}  // namespace deep_ep
