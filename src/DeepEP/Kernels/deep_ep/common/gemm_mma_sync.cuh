#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>  // also brings cuda_fp16.h (__half2, the E4M3 widening)
#include <deep_ep/common/gemm_tile.cuh>

// The grouped GEMM's inner loop without wgmma (before sm_90a): each warp reads its fragments from the padded tile and
// multiplies with mma.sync: BF16 m16n8k16, INT8 m16n8k32 with int32 sums (exact), E4M3 widened exactly to BF16 in
// registers, two m16n8k16 per 32 values.

namespace deep_ep::gemm {

__device__ __forceinline__ unsigned int lds32(const unsigned char* p) {
    return *reinterpret_cast<const unsigned int*>(p);
}

// Four E4M3 values (K order) as two BF16 pairs, exactly: the first two in `lo`, the last two in `hi`.
__device__ __forceinline__ void widen4(unsigned int four, unsigned int& lo, unsigned int& hi) {
    __nv_bfloat162 pairs[2];
    #pragma unroll
    for (int h = 0; h < 2; ++h) {
        const __half2_raw raw = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>((four >> (16 * h)) & 0xffffu), __NV_E4M3);
        const float2 f = __half22float2(__half2(raw));
        pairs[h] = __floats2bfloat162_rn(f.x, f.y);
    }
    lo = *reinterpret_cast<const unsigned int*>(&pairs[0]);
    hi = *reinterpret_cast<const unsigned int*>(&pairs[1]);
}

// d += a · b for one 16 x 8 x 16 BF16 product with fp32 accumulators (PTX ISA, mma m16n8k16 fragment layouts).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a · b for one 16 x 8 x 32 INT8 product with int32 accumulators (exact).
__device__ __forceinline__ void mma_s8(int (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// One 32-byte K step of a warp's 32 x 32 sub-tile. The fragments are read as the 8-bit m16n8k32 layout, which for
// BF16 is exactly m16n8k16's (register q of lane (g, t): row g + 8(q % 2), bytes 4t + 16(q / 2) of the step). E4M3
// splits each register into its first and second pair: two m16n8k16 products whose K orders agree for A and B, so
// together they sum all 32 values.
template <QuantFormat kFormat, typename Sum>
__device__ __forceinline__ void mma_step(Sum (&acc)[kMmaM][kMmaN][4], const unsigned char* a_tile, const unsigned char* b_tile,
                                         int warp_row, int warp_col, int step) {
    const int g = lane_id() / 4, t = lane_id() % 4;
    unsigned int af[kMmaM][4], bf[kMmaN][2];
    #pragma unroll
    for (int i = 0; i < kMmaM; ++i) {
        #pragma unroll
        for (int q = 0; q < 4; ++q)
            af[i][q] = lds32(a_tile + (warp_row + 16 * i + g + 8 * (q % 2)) * kRowBytes + step + 4 * t + 16 * (q / 2));
    }
    #pragma unroll
    for (int j = 0; j < kMmaN; ++j) {
        #pragma unroll
        for (int q = 0; q < 2; ++q)
            bf[j][q] = lds32(b_tile + (warp_col + 8 * j + g) * kRowBytes + step + 4 * t + 16 * q);
    }
    if constexpr (kFormat == QuantFormat::kFp8) {
        unsigned int a_pairs[2][kMmaM][4], b_pairs[2][kMmaN][2];
        #pragma unroll
        for (int i = 0; i < kMmaM; ++i)
            #pragma unroll
            for (int q = 0; q < 4; ++q)
                widen4(af[i][q], a_pairs[0][i][q], a_pairs[1][i][q]);
        #pragma unroll
        for (int j = 0; j < kMmaN; ++j)
            #pragma unroll
            for (int q = 0; q < 2; ++q)
                widen4(bf[j][q], b_pairs[0][j][q], b_pairs[1][j][q]);
        #pragma unroll
        for (int h = 0; h < 2; ++h)
            #pragma unroll
            for (int i = 0; i < kMmaM; ++i)
                #pragma unroll
                for (int j = 0; j < kMmaN; ++j)
                    mma_bf16(acc[i][j], a_pairs[h][i], b_pairs[h][j]);
    } else {
        #pragma unroll
        for (int i = 0; i < kMmaM; ++i) {
            #pragma unroll
            for (int j = 0; j < kMmaN; ++j) {
                if constexpr (kFormat == QuantFormat::kInt8)
                    mma_s8(acc[i][j], af[i], bf[j]);
                else
                    mma_bf16(acc[i][j], af[i], bf[j]);
            }
        }
    }
}

}  // namespace deep_ep::gemm
