#pragma once

#include <cuda_bf16.h>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/quant_format.cuh>
#include <deep_ep/common/utils.cuh>

// The grouped GEMM's tile geometry, shared by its two inner loops (gemm_mma_sync.cuh, gemm_wgmma.cuh): a 64 x 64
// output tile per 128-thread block, K streamed through shared memory in tiles of 128 bytes, kGemmStages in flight.
// On sm_90a the four warps are one warpgroup (wgmma m64n64: warp w owns rows 16w..16w+15, all 64 columns); elsewhere
// each warp owns a 32 x 32 quarter (mma.sync). Either way a warp's accumulator element (i, j, c) is row
// warp_row + 16i + g + 8(c / 2), column warp_col + 8j + 2t + c % 2, with g = lane / 4 and t = lane % 4.

namespace deep_ep {

constexpr int kGemmTileRows = 64;
constexpr int kGemmTileCols = 64;
constexpr int kGemmThreads = 128;
constexpr int kGemmStages = 4;
DEEPEP_CHECK_CONSTANT(kGemmTileRows, DEEPEP_GEMM_TILE_ROWS);
DEEPEP_CHECK_CONSTANT(kGemmTileCols, DEEPEP_GEMM_TILE_COLS);
DEEPEP_CHECK_CONSTANT(kGemmThreads, DEEPEP_GEMM_THREADS);
DEEPEP_CHECK_CONSTANT(kGemmStages, DEEPEP_GEMM_STAGES);

namespace gemm {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr bool kWgmma = true;
#else
constexpr bool kWgmma = false;
#endif

constexpr int kTileBytes = 128;  // of K per stage: 64 BF16 or 128 8-bit values
constexpr int kStepBytes = 32;   // of K per mma: 16 BF16 (k16) or 32 8-bit values (k32)
// mma.sync reads fragments itself: rows padded by 16 bytes so a load's 8 rows x 4 lanes fall on 32 distinct banks.
// wgmma reads the canonical 128-byte-swizzled layout: rows of 128 bytes, 16-byte chunk c of row r at c ^ (r % 8),
// eight-row groups 1024 bytes apart from a 1024-aligned base.
constexpr int kRowBytes = kWgmma ? kTileBytes : kTileBytes + 16;
constexpr int kStageBytes = (kGemmTileRows + kGemmTileCols) * kRowBytes;  // A rows, then B rows
constexpr int kSwizzleAlignment = 1024;
constexpr int kSharedBytes = (kTileBytes + 16) * (kGemmTileRows + kGemmTileCols) * kGemmStages;  // the larger layout
static_assert(kSharedBytes == DEEPEP_GEMM_SHARED_BYTES, "the launch's dynamic shared memory (KernelLimits.GemmSharedBytes)");
static_assert(kGemmStages * kStageBytes + (kWgmma ? kSwizzleAlignment : 0) <= kSharedBytes, "the stages fit");
constexpr int kScaleBlock = kNumChannelsPerScale;
constexpr int kWarpRows = kWgmma ? 16 : 32;
constexpr int kWarpCols = kWgmma ? kGemmTileCols : 32;
constexpr int kWarpsAcross = kGemmTileCols / kWarpCols;
constexpr int kMmaM = kWarpRows / 16;
constexpr int kMmaN = kWarpCols / 8;
static_assert((kGemmTileRows / kWarpRows) * kWarpsAcross * kWarpSize == kGemmThreads, "the warps cover the tile once");
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
        const int chunk = kWgmma ? piece ^ (r % 8) : piece;  // B rows start at row 64, a multiple of 8
        ptx::cp_async_16(stage + r * kRowBytes + chunk * 16, source, valid);
    }
}

}  // namespace gemm

}  // namespace deep_ep
