#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>  // also brings cuda_fp16.h (__half2, the E4M3 widening)
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/quant_format.cuh>
#include <deep_ep/common/utils.cuh>

// The masked grouped GEMM of the fused MoE layer (docs/fused-moe.md): for each local expert e and each of its first
// counts[e] rows m, d[e, m, :] = B[e] · a[e, m, :] (B [n, k] row-major: the weights; a [rows, k]: the packed
// activations). Rows past the count are neither read nor written and blocks whose first row is past it exit at once,
// so the counts never leave the device. Operands are staged into shared memory as BF16 (INT8 and E4M3 values convert
// exactly) and multiplied with mma.sync m16n8k16 in fp32. K runs in blocks of 128 so the scales are applied where the
// host reference applies them (Backends/Host/HostLinear.cs): INT8 block sums are exact integers, added in int32 and
// multiplied by the row's and the column's scale at the end; FP8 block sums are scaled by activation scale × weight
// block scale and added in fp32; BF16 block sums are added in fp32.

namespace deep_ep {

constexpr int kGemmTileRows = 64;
constexpr int kGemmTileCols = 64;
constexpr int kGemmThreads = 128;
DEEPEP_CHECK_CONSTANT(kGemmTileRows, DEEPEP_GEMM_TILE_ROWS);
DEEPEP_CHECK_CONSTANT(kGemmTileCols, DEEPEP_GEMM_TILE_COLS);
DEEPEP_CHECK_CONSTANT(kGemmThreads, DEEPEP_GEMM_THREADS);

// C# twin: DeepEP.Runtimes.GroupedGemmParams.
struct GroupedGemmParams {
    const void* a;          // [num_experts, rows, k] BF16, INT8 or E4M3 activations, contiguous
    const float* a_scales;  // INT8 [num_experts, rows]; FP8 [num_experts, rows, k / 128]; BF16 null
    const void* b;          // [num_experts, n, k] weights in the same format, contiguous
    const float* b_scales;  // INT8 [num_experts, n]; FP8 [num_experts, n / 128, k / 128]; BF16 null
    const int* counts;      // [num_experts] valid rows of each expert, at most rows
    void* d;                // [num_experts, rows, n] float or BF16; only valid rows are written
    int rows;
    int n;                  // a multiple of kGemmTileCols
    int k;                  // a multiple of 128
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(GroupedGemmParams, DEEPEP_GROUPED_GEMM_PARAMS_SIZE);

namespace gemm {

constexpr int kTileK = 64;
constexpr int kScaleBlock = kNumChannelsPerScale;
// 8 BF16 of padding per shared-memory row: a fragment load's 8 row groups then fall on distinct banks.
constexpr int kSmemStride = kTileK + 8;
constexpr int kWarpRows = 32;
constexpr int kWarpCols = 32;
constexpr int kWarpsAcross = kGemmTileCols / kWarpCols;
constexpr int kMmaM = kWarpRows / 16;
constexpr int kMmaN = kWarpCols / 8;
static_assert((kGemmTileRows / kWarpRows) * kWarpsAcross * kWarpSize == kGemmThreads, "one warp per 32 x 32 sub-tile");
static_assert(kScaleBlock % kTileK == 0, "a scale block is whole K tiles");
static_assert(kScaleBlock % kGemmTileCols == 0, "a column tile lies inside one FP8 weight block");

template <QuantFormat kFormat> struct Operand;
template <> struct Operand<QuantFormat::kBf16> { using Type = __nv_bfloat16; };
template <> struct Operand<QuantFormat::kInt8> { using Type = signed char; };
template <> struct Operand<QuantFormat::kFp8> { using Type = unsigned char; };

// INT8 block sums accumulate as integers (the host's int sum); the others in fp32.
template <QuantFormat kFormat> struct Total { using Type = float; };
template <> struct Total<QuantFormat::kInt8> { using Type = int; };

// Two operand bytes (INT8 or E4M3, the first at the lower address) as two floats, exactly.
template <QuantFormat kFormat>
__device__ __forceinline__ float2 widen2(unsigned int two) {
    if constexpr (kFormat == QuantFormat::kInt8) {
        return make_float2(static_cast<float>(static_cast<signed char>(two & 0xffu)),
                           static_cast<float>(static_cast<signed char>((two >> 8) & 0xffu)));
    } else {
        const __half2_raw raw = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(two), __NV_E4M3);
        return __half22float2(__half2(raw));
    }
}

// Eight consecutive operand values as eight BF16 in one 16-byte word.
template <QuantFormat kFormat>
__device__ __forceinline__ int4 load8_as_bf16(const typename Operand<kFormat>::Type* src) {
    if constexpr (kFormat == QuantFormat::kBf16) {
        return *reinterpret_cast<const int4*>(src);
    } else {
        const uint2 raw = *reinterpret_cast<const uint2*>(src);
        int4 out;
        __nv_bfloat162* pairs = reinterpret_cast<__nv_bfloat162*>(&out);
        #pragma unroll
        for (int i = 0; i < 4; ++i) {
            const unsigned int word = i < 2 ? raw.x : raw.y;
            const float2 f = widen2<kFormat>((word >> (16 * (i % 2))) & 0xffffu);
            pairs[i] = __floats2bfloat162_rn(f.x, f.y);
        }
        return out;
    }
}

// Stages kTileRowsN rows x kTileK columns (from column k0) of a row-major [*, k] operand into shared memory as BF16
// bits. Rows at or past `valid` are zero and never read: past an expert's count the packed rows hold stale data.
template <QuantFormat kFormat, int kTileRowsN>
__device__ __forceinline__ void stage_tile(unsigned short (*tile)[kSmemStride], const typename Operand<kFormat>::Type* src,
                                           int valid, int k, int k0) {
    constexpr int kChunksPerRow = kTileK / 8;
    for (int c = static_cast<int>(threadIdx.x); c < kTileRowsN * kChunksPerRow; c += kGemmThreads) {
        const int r = c / kChunksPerRow;
        const int col = (c % kChunksPerRow) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (r < valid)
            v = load8_as_bf16<kFormat>(src + static_cast<long long>(r) * k + k0 + col);
        *reinterpret_cast<int4*>(&tile[r][col]) = v;
    }
}

__device__ __forceinline__ unsigned int ld_pair(const unsigned short* p) {
    return *reinterpret_cast<const unsigned int*>(p);
}

// d += a · b for one 16 x 8 x 16 BF16 product with fp32 accumulators (PTX ISA, mma m16n8k16 fragment layouts).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void store_pair(float* dst, float v0, float v1) {
    *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
}

__device__ __forceinline__ void store_pair(__nv_bfloat16* dst, float v0, float v1) {
    *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(v0, v1);
}

}  // namespace gemm

// Grid (ceil(rows / 64), n / 64, num_experts), kGemmThreads threads: a 64 x 64 output tile per block, a 32 x 32
// sub-tile per warp (2 x 4 mma tiles). Out is float (the gate/up projection, read by swiglu_quant) or __nv_bfloat16.
// Fragment element (i, j, c) of a warp is row warp_row + 16i + g + 8(c / 2), column warp_col + 8j + 2t + c % 2, with
// g = lane / 4 and t = lane % 4.
template <QuantFormat kFormat, typename Out>
__global__ void __launch_bounds__(kGemmThreads) grouped_gemm(const GroupedGemmParams p) {
    using namespace gemm;
    using T = typename Operand<kFormat>::Type;
    using Acc = typename Total<kFormat>::Type;
    __shared__ __align__(16) unsigned short a_tile[kGemmTileRows][kSmemStride];
    __shared__ __align__(16) unsigned short b_tile[kGemmTileCols][kSmemStride];

    const int expert = static_cast<int>(blockIdx.z);
    const int count = min(p.counts[expert], p.rows);  // a count past the layout (a caller's bad value) never reads or writes outside it
    const int row0 = static_cast<int>(blockIdx.x) * kGemmTileRows;
    if (row0 >= count)
        return;  // the whole block leaves before any barrier
    const int col0 = static_cast<int>(blockIdx.y) * kGemmTileCols;
    const long long expert_rows = static_cast<long long>(expert) * p.rows;
    const T* a = static_cast<const T*>(p.a) + (expert_rows + row0) * p.k;
    const T* b = static_cast<const T*>(p.b) + (static_cast<long long>(expert) * p.n + col0) * p.k;
    const int valid_rows = min(kGemmTileRows, count - row0);
    const int k_blocks = p.k / kScaleBlock;

    const int lane = lane_id();
    const int g = lane / 4, t = lane % 4;
    const int warp_row = (warp_id() / kWarpsAcross) * kWarpRows;
    const int warp_col = (warp_id() % kWarpsAcross) * kWarpCols;

    Acc total[kMmaM][kMmaN][4] = {};
    for (int kb = 0; kb < k_blocks; ++kb) {
        float block[kMmaM][kMmaN][4] = {};
        for (int k0 = kb * kScaleBlock; k0 < (kb + 1) * kScaleBlock; k0 += kTileK) {
            __syncthreads();  // every warp is done with the previous tiles
            stage_tile<kFormat, kGemmTileRows>(a_tile, a, valid_rows, p.k, k0);
            stage_tile<kFormat, kGemmTileCols>(b_tile, b, kGemmTileCols, p.k, k0);
            __syncthreads();
            #pragma unroll
            for (int ks = 0; ks < kTileK; ks += 16) {
                unsigned int af[kMmaM][4];
                unsigned int bf[kMmaN][2];
                #pragma unroll
                for (int i = 0; i < kMmaM; ++i) {
                    const int r = warp_row + 16 * i + g;
                    af[i][0] = ld_pair(&a_tile[r][ks + 2 * t]);
                    af[i][1] = ld_pair(&a_tile[r + 8][ks + 2 * t]);
                    af[i][2] = ld_pair(&a_tile[r][ks + 2 * t + 8]);
                    af[i][3] = ld_pair(&a_tile[r + 8][ks + 2 * t + 8]);
                }
                #pragma unroll
                for (int j = 0; j < kMmaN; ++j) {
                    const int c = warp_col + 8 * j + g;
                    bf[j][0] = ld_pair(&b_tile[c][ks + 2 * t]);
                    bf[j][1] = ld_pair(&b_tile[c][ks + 2 * t + 8]);
                }
                #pragma unroll
                for (int i = 0; i < kMmaM; ++i)
                    #pragma unroll
                    for (int j = 0; j < kMmaN; ++j)
                        mma_bf16(block[i][j], af[i], bf[j]);
            }
        }

        // Fold the 128-wide block into the total, as HostLinear adds each block's dot product.
        float weight_scale = 0.0f;
        if constexpr (kFormat == QuantFormat::kFp8)
            weight_scale = p.b_scales[(static_cast<long long>(expert) * (p.n / kScaleBlock) + col0 / kScaleBlock) * k_blocks + kb];
        #pragma unroll
        for (int i = 0; i < kMmaM; ++i) {
            #pragma unroll
            for (int h = 0; h < 2; ++h) {
                float scale = 0.0f;
                if constexpr (kFormat == QuantFormat::kFp8) {
                    const int row = row0 + warp_row + 16 * i + g + 8 * h;
                    // Host order: dot · (activation scale · weight scale). Rows past the count are never stored.
                    if (row < count)
                        scale = __fmul_rn(p.a_scales[(expert_rows + row) * k_blocks + kb], weight_scale);
                }
                #pragma unroll
                for (int j = 0; j < kMmaN; ++j) {
                    #pragma unroll
                    for (int c = 2 * h; c < 2 * h + 2; ++c) {
                        if constexpr (kFormat == QuantFormat::kInt8)
                            total[i][j][c] += __float2int_rn(block[i][j][c]);
                        else if constexpr (kFormat == QuantFormat::kFp8)
                            total[i][j][c] = __fadd_rn(total[i][j][c], __fmul_rn(block[i][j][c], scale));
                        else
                            total[i][j][c] = __fadd_rn(total[i][j][c], block[i][j][c]);
                    }
                }
            }
        }
    }

    Out* d = static_cast<Out*>(p.d) + expert_rows * p.n;
    #pragma unroll
    for (int i = 0; i < kMmaM; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = row0 + warp_row + 16 * i + g + 8 * h;
            if (row >= count)
                continue;
            float row_scale = 1.0f;
            if constexpr (kFormat == QuantFormat::kInt8)
                row_scale = p.a_scales[expert_rows + row];
            #pragma unroll
            for (int j = 0; j < kMmaN; ++j) {
                const int col = col0 + warp_col + 8 * j + 2 * t;
                float v[2];
                #pragma unroll
                for (int c = 0; c < 2; ++c) {
                    if constexpr (kFormat == QuantFormat::kInt8) {
                        // Host order: sum · activation scale · weight scale, left to right.
                        const float weight = p.b_scales[static_cast<long long>(expert) * p.n + col + c];
                        v[c] = __fmul_rn(__fmul_rn(__int2float_rn(total[i][j][2 * h + c]), row_scale), weight);
                    } else {
                        v[c] = total[i][j][2 * h + c];
                    }
                }
                store_pair(d + static_cast<long long>(row) * p.n + col, v[0], v[1]);
            }
        }
    }
}

}  // namespace deep_ep
