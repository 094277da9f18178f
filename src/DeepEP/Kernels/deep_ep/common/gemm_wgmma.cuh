#pragma once

#include <deep_ep/common/gemm_tile.cuh>

// The grouped GEMM's inner loop on sm_90a: the block's four warps are one warpgroup, and each 128-byte K tile is four
// wgmma m64n64 (k16 for BF16, k32 for E4M3 and INT8) reading both operands straight from the swizzled shared tile
// (K-major, 128-byte swizzle). A step advances the descriptors' start by its 32 bytes inside the swizzle atom; the
// hardware applies the swizzle to the address bits, so the tile base must be 1024-aligned.

namespace deep_ep::gemm {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// Shared-memory matrix descriptor (PTX ISA, wgmma matrix descriptor): start address >> 4 in bits 0-13, leading byte
// offset (unused by swizzled K-major layouts: 1) in 16-29, stride byte offset >> 4 in 32-45 (the 1024 bytes between
// eight-row groups), swizzle mode in 62-63 (1: 128 bytes).
__device__ __forceinline__ unsigned long long smem_descriptor(const unsigned char* tile) {
    const unsigned int address = static_cast<unsigned int>(__cvta_generic_to_shared(tile));
    return static_cast<unsigned long long>((address & 0x3ffffu) >> 4) | (1ull << 16) |
           (static_cast<unsigned long long>(kSwizzleAlignment >> 4) << 32) | (1ull << 62);
}

// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma.
template <typename Sum>
__device__ __forceinline__ void fence_operands(Sum (&d)[32]) {
    #pragma unroll
    for (int i = 0; i < 32; ++i)
        asm volatile("" : "+r"(reinterpret_cast<unsigned int&>(d[i])) : : "memory");
}

// d (+)= A · B, 64 x 64 x one 32-byte K step; scale_d 0 overwrites d.
template <QuantFormat kFormat>
__device__ __forceinline__ void wgmma_step(float (&d)[32], unsigned long long a, unsigned long long b, int scale_d) {
    if constexpr (kFormat == QuantFormat::kBf16) {
        asm volatile(
            "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
            "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
            : "l"(a), "l"(b), "r"(scale_d));
    } else {
        static_assert(kFormat == QuantFormat::kFp8, "INT8 accumulates in int32");
        asm volatile(
            "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
            "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1;\n}\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
            : "l"(a), "l"(b), "r"(scale_d));
    }
}

template <QuantFormat kFormat>
__device__ __forceinline__ void wgmma_step(int (&d)[32], unsigned long long a, unsigned long long b, int scale_d) {
    static_assert(kFormat == QuantFormat::kInt8, "int32 sums are INT8's");
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
          "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
          "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
          "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31])
        : "l"(a), "l"(b), "r"(scale_d));
}

// One K tile: four steps issued back to back, then waited for, so the stage may be refilled after the next barrier.
// Without `accumulate` the first step overwrites the accumulators (a new 128-wide K block).
template <QuantFormat kFormat, typename Sum>
__device__ __forceinline__ void wgmma_tile(Sum (&acc)[kMmaM][kMmaN][4], const unsigned char* a_tile, const unsigned char* b_tile,
                                           bool accumulate) {
    static_assert(kMmaM * kMmaN * 4 == 32, "one m64n64 accumulator per warpgroup");
    Sum (&d)[32] = reinterpret_cast<Sum (&)[32]>(acc);
    fence_operands(d);
    asm volatile("wgmma.fence.sync.aligned;" : : : "memory");
    #pragma unroll
    for (int step = 0; step < kTileBytes; step += kStepBytes)
        wgmma_step<kFormat>(d, smem_descriptor(a_tile + step), smem_descriptor(b_tile + step), accumulate || step > 0 ? 1 : 0);
    asm volatile("wgmma.commit_group.sync.aligned;" : : : "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" : : : "memory");
    fence_operands(d);
}

#else

// Declared for the kernel's discarded sm_90a branch; defined only where wgmma exists.
template <QuantFormat kFormat, typename Sum>
__device__ void wgmma_tile(Sum (&acc)[kMmaM][kMmaN][4], const unsigned char* a_tile, const unsigned char* b_tile, bool accumulate);

#endif

}  // namespace deep_ep::gemm
