#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>  // also brings cuda_fp16.h (__half2, the E4M3 widening)
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/quant_format.cuh>
#include <deep_ep/common/utils.cuh>

// The masked grouped GEMM of the fused MoE layer (docs/fused-moe.md): for each local expert e and each of its first
// counts[e] rows m, d[e, m, :] = B[e] · a[e, m, :] (B [n, k] row-major: the weights; a [rows, k]: the packed
// activations). Rows past the count are neither read nor written and blocks whose first row is past it exit at once,
// so the counts never leave the device. Operand tiles of 128 bytes of K stream into shared memory as they are
// (cp.async, kGemmStages tiles in flight) and feed mma.sync: BF16 m16n8k16, INT8 m16n8k32 with int32 sums, E4M3
// widened exactly to BF16 at the fragment (two m16n8k16 per 32 values). K runs in blocks of 128 so the scales are
// applied where the host reference applies them (Backends/Host/HostLinear.cs): INT8 sums are exact integers,
// multiplied by the row's and the column's scale at the end; FP8 block sums are scaled by activation scale × weight
// block scale and added in fp32; BF16 block sums are added in fp32.

namespace deep_ep {

constexpr int kGemmTileRows = 64;
constexpr int kGemmTileCols = 64;
constexpr int kGemmThreads = 128;
constexpr int kGemmStages = 4;
DEEPEP_CHECK_CONSTANT(kGemmTileRows, DEEPEP_GEMM_TILE_ROWS);
DEEPEP_CHECK_CONSTANT(kGemmTileCols, DEEPEP_GEMM_TILE_COLS);
DEEPEP_CHECK_CONSTANT(kGemmThreads, DEEPEP_GEMM_THREADS);
DEEPEP_CHECK_CONSTANT(kGemmStages, DEEPEP_GEMM_STAGES);

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

constexpr int kTileBytes = 128;                 // of K per stage: 64 BF16 or 128 8-bit values
constexpr int kStepBytes = 32;                  // of K per mma step: 16 BF16 (m16n8k16) or 32 8-bit values (m16n8k32)
constexpr int kRowBytes = kTileBytes + 16;      // padded: a fragment load's 8 rows x 4 lanes fall on 32 distinct banks
constexpr int kStageBytes = (kGemmTileRows + kGemmTileCols) * kRowBytes;  // A rows, then B rows
constexpr int kSharedBytes = kGemmStages * kStageBytes;
static_assert(kSharedBytes == DEEPEP_GEMM_SHARED_BYTES, "the launch's dynamic shared memory (KernelLimits.GemmSharedBytes)");
constexpr int kScaleBlock = kNumChannelsPerScale;
constexpr int kWarpRows = 32;
constexpr int kWarpCols = 32;
constexpr int kWarpsAcross = kGemmTileCols / kWarpCols;
constexpr int kMmaM = kWarpRows / 16;
constexpr int kMmaN = kWarpCols / 8;
static_assert((kGemmTileRows / kWarpRows) * kWarpsAcross * kWarpSize == kGemmThreads, "one warp per 32 x 32 sub-tile");
static_assert(kScaleBlock % kGemmTileCols == 0, "a column tile lies inside one FP8 weight block");

template <QuantFormat kFormat> struct Operand;
template <> struct Operand<QuantFormat::kBf16> { using Type = __nv_bfloat16; };
template <> struct Operand<QuantFormat::kInt8> { using Type = signed char; };
template <> struct Operand<QuantFormat::kFp8> { using Type = unsigned char; };

// INT8 sums accumulate as integers (the host's int sum); the others in fp32.
template <QuantFormat kFormat> struct Total { using Type = float; };
template <> struct Total<QuantFormat::kInt8> { using Type = int; };

// Queues K tile `kt` of the block's A rows (zeros past `valid_rows`: past an expert's count the packed rows hold stale
// data) and B rows into `stage`, 16 bytes per copy.
__device__ __forceinline__ void load_tile(unsigned char* stage, const unsigned char* a, const unsigned char* b, int valid_rows,
                                          long long row_bytes, int kt) {
    constexpr int kPieces = kTileBytes / 16;
    constexpr int kCopies = (kGemmTileRows + kGemmTileCols) * kPieces / kGemmThreads;
    static_assert(kCopies * kGemmThreads == (kGemmTileRows + kGemmTileCols) * kPieces, "every thread copies alike");
    #pragma unroll
    for (int i = 0; i < kCopies; ++i) {
        const int c = static_cast<int>(threadIdx.x) + i * kGemmThreads;
        const int r = c / kPieces, piece = c % kPieces;
        const bool is_a = r < kGemmTileRows;
        const int row = is_a ? r : r - kGemmTileRows;
        const bool valid = !is_a || row < valid_rows;
        const unsigned char* source = (is_a ? a : b) + (valid ? row : 0) * row_bytes + kt * kTileBytes + piece * 16;
        ptx::cp_async_16(stage + r * kRowBytes + piece * 16, source, valid);
    }
}

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

// Folds a 128-wide K block (number kb) into the total, as HostLinear adds each block's dot product; clears the block.
// first_row: the warp's row of lane group 0 (row0 + warp_row + g).
template <QuantFormat kFormat>
__device__ __forceinline__ void fold_block(float (&total)[kMmaM][kMmaN][4], float (&block)[kMmaM][kMmaN][4], const GroupedGemmParams& p,
                                           int expert, long long expert_rows, int first_row, int col0, int count, int kb) {
    const int k_blocks = p.k / kScaleBlock;
    float weight_scale = 0.0f;
    if constexpr (kFormat == QuantFormat::kFp8)
        weight_scale = p.b_scales[(static_cast<long long>(expert) * (p.n / kScaleBlock) + col0 / kScaleBlock) * k_blocks + kb];
    #pragma unroll
    for (int i = 0; i < kMmaM; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            float scale = 0.0f;
            if constexpr (kFormat == QuantFormat::kFp8) {
                const int row = first_row + 16 * i + 8 * h;
                // Host order: dot · (activation scale · weight scale). Rows past the count are never stored.
                if (row < count)
                    scale = __fmul_rn(p.a_scales[(expert_rows + row) * k_blocks + kb], weight_scale);
            }
            #pragma unroll
            for (int j = 0; j < kMmaN; ++j) {
                #pragma unroll
                for (int c = 2 * h; c < 2 * h + 2; ++c) {
                    if constexpr (kFormat == QuantFormat::kFp8)
                        total[i][j][c] = __fadd_rn(total[i][j][c], __fmul_rn(block[i][j][c], scale));
                    else
                        total[i][j][c] = __fadd_rn(total[i][j][c], block[i][j][c]);
                    block[i][j][c] = 0.0f;
                }
            }
        }
    }
}

__device__ __forceinline__ void store_pair(float* dst, float v0, float v1) {
    *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
}

__device__ __forceinline__ void store_pair(__nv_bfloat16* dst, float v0, float v1) {
    *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(v0, v1);
}

}  // namespace gemm

// Grid (ceil(rows / 64), n / 64, num_experts), kGemmThreads threads, kSharedBytes of dynamic shared memory: a 64 x 64
// output tile per block, a 32 x 32 sub-tile per warp (2 x 4 mma tiles). Out is float (the gate/up projection, read by
// swiglu_quant) or __nv_bfloat16. Fragment element (i, j, c) of a warp is row warp_row + 16i + g + 8(c / 2), column
// warp_col + 8j + 2t + c % 2, with g = lane / 4 and t = lane % 4.
template <QuantFormat kFormat, typename Out>
__global__ void __launch_bounds__(kGemmThreads) grouped_gemm(const GroupedGemmParams p) {
    using namespace gemm;
    using T = typename Operand<kFormat>::Type;
    using Acc = typename Total<kFormat>::Type;
    extern __shared__ __align__(16) unsigned char smem[];

    const int expert = static_cast<int>(blockIdx.z);
    const int count = min(p.counts[expert], p.rows);  // a count past the layout (a caller's bad value) never reads or writes outside it
    const int row0 = static_cast<int>(blockIdx.x) * kGemmTileRows;
    if (row0 >= count)
        return;  // the whole block leaves before any barrier
    const int col0 = static_cast<int>(blockIdx.y) * kGemmTileCols;
    const long long expert_rows = static_cast<long long>(expert) * p.rows;
    const long long row_bytes = static_cast<long long>(p.k) * sizeof(T);
    const unsigned char* a = static_cast<const unsigned char*>(p.a) + (expert_rows + row0) * row_bytes;
    const unsigned char* b = static_cast<const unsigned char*>(p.b) + (static_cast<long long>(expert) * p.n + col0) * row_bytes;
    const int valid_rows = min(kGemmTileRows, count - row0);
    const int k_tiles = static_cast<int>(row_bytes / kTileBytes);
    constexpr int kTilesPerBlock = kScaleBlock * static_cast<int>(sizeof(T)) / kTileBytes;  // 1 (8-bit) or 2 (BF16)

    const int lane = lane_id();
    const int g = lane / 4, t = lane % 4;
    const int warp_row = (warp_id() / kWarpsAcross) * kWarpRows;
    const int warp_col = (warp_id() % kWarpsAcross) * kWarpCols;

    // INT8 sums accumulate straight into the total (exact); FP8 and BF16 sum each 128-wide K block, then fold it in.
    Acc total[kMmaM][kMmaN][4] = {};
    float block[kMmaM][kMmaN][4] = {};
    #pragma unroll
    for (int s = 0; s < kGemmStages - 1; ++s) {
        if (s < k_tiles)
            load_tile(smem + s * kStageBytes, a, b, valid_rows, row_bytes, s);
        ptx::cp_async_commit();  // empty groups too, so the wait below counts tiles
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        ptx::cp_async_wait<kGemmStages - 2>();
        __syncthreads();  // tile kt has landed for every thread, and every warp is done with tile kt - 1, refilled next
        const int next = kt + kGemmStages - 1;
        if (next < k_tiles)
            load_tile(smem + (next % kGemmStages) * kStageBytes, a, b, valid_rows, row_bytes, next);
        ptx::cp_async_commit();
        const unsigned char* a_tile = smem + (kt % kGemmStages) * kStageBytes;
        const unsigned char* b_tile = a_tile + kGemmTileRows * kRowBytes;
        #pragma unroll
        for (int step = 0; step < kTileBytes; step += kStepBytes) {
            if constexpr (kFormat == QuantFormat::kInt8)
                mma_step<kFormat>(total, a_tile, b_tile, warp_row, warp_col, step);
            else
                mma_step<kFormat>(block, a_tile, b_tile, warp_row, warp_col, step);
        }
        if constexpr (kFormat != QuantFormat::kInt8) {
            if ((kt + 1) % kTilesPerBlock == 0)
                fold_block<kFormat>(total, block, p, expert, expert_rows, row0 + warp_row + g, col0, count, kt / kTilesPerBlock);
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
