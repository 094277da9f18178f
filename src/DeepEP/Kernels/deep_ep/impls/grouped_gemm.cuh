#pragma once

#include <deep_ep/common/gemm_mma_sync.cuh>
#include <deep_ep/common/gemm_wgmma.cuh>

// The masked grouped GEMM of the fused MoE layer (docs/fused-moe.md): for each local expert e and each of its first
// counts[e] rows m, d[e, m, :] = B[e] · a[e, m, :] (B [n, k] row-major: the weights; a [rows, k]: the packed
// activations). Rows past the count are neither read nor written and blocks whose first row is past it exit at once,
// so the counts never leave the device. Operand tiles of 128 bytes of K stream into shared memory as they are
// (cp.async, kGemmStages tiles in flight; gemm_tile.cuh) and feed wgmma on sm_90a (gemm_wgmma.cuh), mma.sync
// elsewhere (gemm_mma_sync.cuh). K runs in blocks of 128 so the scales are applied where the host reference applies
// them (Backends/Host/HostLinear.cs): INT8 sums are exact integers, multiplied by the row's and the column's scale at
// the end; FP8 block sums are scaled by activation scale × weight block scale and added in fp32; BF16 block sums are
// added in fp32.

namespace deep_ep {

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

// The FP8 scales of one 128-wide K block for this thread's rows (row first_row + 16i + 8h; 0 past the count): loaded
// a block ahead of their fold, so the fold multiplies registers instead of waiting on memory every K tile.
// first_row: the warp's row of lane group 0 (row0 + warp_row + g). Empty for INT8 and BF16.
template <QuantFormat kFormat>
struct BlockScales {
    float weight = 0.0f;
    float activation[kMmaM][2] = {};

    __device__ __forceinline__ void load(const GroupedGemmParams& p, int expert, long long expert_rows, int first_row, int col0,
                                         int count, int kb) {
        if constexpr (kFormat == QuantFormat::kFp8) {
            const int k_blocks = p.k / kScaleBlock;
            if (kb >= k_blocks)
                return;
            weight = p.b_scales[(static_cast<long long>(expert) * (p.n / kScaleBlock) + col0 / kScaleBlock) * k_blocks + kb];
            #pragma unroll
            for (int i = 0; i < kMmaM; ++i) {
                #pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int row = first_row + 16 * i + 8 * h;
                    activation[i][h] = row < count ? p.a_scales[(expert_rows + row) * k_blocks + kb] : 0.0f;
                }
            }
        }
    }
};

// Folds a 128-wide K block into the total, as HostLinear adds each block's dot product; clears the block.
template <QuantFormat kFormat>
__device__ __forceinline__ void fold_block(float (&total)[kMmaM][kMmaN][4], float (&block)[kMmaM][kMmaN][4], const BlockScales<kFormat>& scales) {
    #pragma unroll
    for (int i = 0; i < kMmaM; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            // Host order: dot · (activation scale · weight scale). Rows past the count (scale 0) are never stored.
            float scale = 0.0f;
            if constexpr (kFormat == QuantFormat::kFp8)
                scale = __fmul_rn(scales.activation[i][h], scales.weight);
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
// output tile per block (the warps' shares and accumulator layout in gemm_tile.cuh). Out is float (the gate/up
// projection, read by swiglu_quant) or __nv_bfloat16.
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
    const int first_row = row0 + warp_row + g;
    BlockScales<kFormat> scales;
    scales.load(p, expert, expert_rows, first_row, col0, count, 0);
    unsigned char* stages = smem;
    if constexpr (kWgmma) {
        const unsigned int offset = static_cast<unsigned int>(__cvta_generic_to_shared(smem)) % kSwizzleAlignment;
        stages += (kSwizzleAlignment - offset) % kSwizzleAlignment;
    }
    #pragma unroll
    for (int s = 0; s < kGemmStages - 1; ++s) {
        if (s < k_tiles)
            load_tile(stages + s * kStageBytes, a, b, valid_rows, row_bytes, s);
        ptx::cp_async_commit();  // empty groups too, so the wait below counts tiles
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        ptx::cp_async_wait<kGemmStages - 2>();
        if constexpr (kWgmma)
            ptx::fence_proxy_async_shared();  // wgmma reads the copies through the async proxy
        __syncthreads();  // tile kt has landed for every thread, and every warp is done with tile kt - 1, refilled next
        const int next = kt + kGemmStages - 1;
        if (next < k_tiles)
            load_tile(stages + (next % kGemmStages) * kStageBytes, a, b, valid_rows, row_bytes, next);
        ptx::cp_async_commit();
        const unsigned char* a_tile = stages + (kt % kGemmStages) * kStageBytes;
        const unsigned char* b_tile = a_tile + kGemmTileRows * kRowBytes;
        if constexpr (kWgmma) {
            // A new 128-wide block starts from zero; INT8 sums straight into the total.
            if constexpr (kFormat == QuantFormat::kInt8)
                wgmma_tile<kFormat>(total, a_tile, b_tile, true);
            else
                wgmma_tile<kFormat>(block, a_tile, b_tile, kt % kTilesPerBlock != 0);
        } else {
            #pragma unroll
            for (int step = 0; step < kTileBytes; step += kStepBytes) {
                if constexpr (kFormat == QuantFormat::kInt8)
                    mma_step<kFormat>(total, a_tile, b_tile, warp_row, warp_col, step);
                else
                    mma_step<kFormat>(block, a_tile, b_tile, warp_row, warp_col, step);
            }
        }
        if constexpr (kFormat != QuantFormat::kInt8) {
            if ((kt + 1) % kTilesPerBlock == 0) {
                const BlockScales<kFormat> current = scales;
                scales.load(p, expert, expert_rows, first_row, col0, count, kt / kTilesPerBlock + 1);  // lands during the next tiles
                fold_block<kFormat>(total, block, current);
            }
        }
    }

    Out* d = static_cast<Out*>(p.d) + expert_rows * p.n;
    #pragma unroll
    for (int i = 0; i < kMmaM; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = first_row + 16 * i + 8 * h;
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
