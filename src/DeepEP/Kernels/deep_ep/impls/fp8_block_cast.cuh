#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/utils.cuh>

// The 128 x 128 block FP8 E4M3 cast of BF16 weights [num_matrices, rows, columns] (DeepSeek-V3's checkpoint format;
// the fused MoE layer's Fp8 weights). Bit for bit DeepEP.Tensors.Fp8Cast.BlockCast: amax = max(1e-4, max |w|) over
// the block, scale = 448 / amax (IEEE division), scale_inv = amax * (1 / 448), q = e4m3_satfinite(w * scale).

namespace deep_ep {

constexpr int kFp8BlockCastThreads = 256;
DEEPEP_CHECK_CONSTANT(kFp8BlockCastThreads, DEEPEP_FP8_BLOCK_CAST_THREADS);

// C# twin: DeepEP.Runtimes.Fp8BlockCastParams.
struct Fp8BlockCastParams {
    const __nv_bfloat16* w;  // [num_matrices, rows, columns] contiguous
    unsigned char* q;        // [num_matrices, rows, columns] E4M3
    float* scales;           // [num_matrices, rows / 128, columns / 128]
    int rows;                // a multiple of 128
    int columns;             // a multiple of 128
};
DEEPEP_CHECK_PARAMS_SIZE(Fp8BlockCastParams, DEEPEP_FP8_BLOCK_CAST_PARAMS_SIZE);

// One block per 128 x 128 tile: grid (columns / 128, rows / 128, num_matrices). Each warp owns 16 of the tile's rows,
// each lane 4 consecutive columns of them, held in registers between the amax and the cast. A maximum is exact in any
// order, so the reduction needs no fixed order to match the host.
__global__ void __launch_bounds__(kFp8BlockCastThreads) fp8_block_cast(const Fp8BlockCastParams p) {
    constexpr int kWarps = kFp8BlockCastThreads / kWarpSize;
    constexpr int kRowsPerWarp = kNumChannelsPerScale / kWarps;
    constexpr int kColumnsPerLane = kNumChannelsPerScale / kWarpSize;
    static_assert(kColumnsPerLane == 4, "each lane moves 4 BF16 (8 bytes) per row");
    __shared__ float warp_amax[kWarps];

    const int lane = lane_id(), warp = warp_id();
    const long long matrix = blockIdx.z;
    const long long first_row = matrix * p.rows + static_cast<long long>(blockIdx.y) * kNumChannelsPerScale + warp * kRowsPerWarp;
    const long long column = static_cast<long long>(blockIdx.x) * kNumChannelsPerScale + lane * kColumnsPerLane;

    float v[kRowsPerWarp][kColumnsPerLane];
    float amax = 1e-4f;  // the floor is the start value, as in the reference
    #pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
        const int2 raw = *reinterpret_cast<const int2*>(p.w + (first_row + r) * p.columns + column);
        const __nv_bfloat16* values = reinterpret_cast<const __nv_bfloat16*>(&raw);
        #pragma unroll
        for (int c = 0; c < kColumnsPerLane; ++c) {
            v[r][c] = __bfloat162float(values[c]);
            amax = fmaxf(amax, fabsf(v[r][c]));
        }
    }
    amax = warp_reduce_max(amax);
    if (lane == 0)
        warp_amax[warp] = amax;
    __syncthreads();
    #pragma unroll
    for (int i = 0; i < kWarps; ++i)
        amax = fmaxf(amax, warp_amax[i]);

    const float scale = 448.0f / amax;
    #pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
        unsigned int packed = 0;
        #pragma unroll
        for (int c = 0; c < kColumnsPerLane; ++c) {
            const __nv_fp8_storage_t q = __nv_cvt_float_to_fp8(v[r][c] * scale, __NV_SATFINITE, __NV_E4M3);
            packed |= static_cast<unsigned int>(q) << (8 * c);
        }
        *reinterpret_cast<unsigned int*>(p.q + (first_row + r) * p.columns + column) = packed;
    }
    if (threadIdx.x == 0) {
        const long long block_rows = p.rows / kNumChannelsPerScale, block_columns = p.columns / kNumChannelsPerScale;
        p.scales[(matrix * block_rows + blockIdx.y) * block_columns + blockIdx.x] = amax * (1.0f / 448.0f);
    }
}

}  // namespace deep_ep
