#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/utils.cuh>

// Per-token, per-128-channel FP8 E4M3 cast of a BF16 [num_tokens, kHidden] tensor (spec 5.3 "fused FP8 cast").
// The arithmetic is bit-for-bit that of the host reference DeepEP.Tensors.Fp8Cast.CastRow.

namespace deep_ep {

// C# twin: DeepEP.Runtimes.Fp8CastRuntime.Parameters.
struct Fp8CastParams {
    const __nv_bfloat16* x;  // [num_tokens, x_row_stride] BF16; kHidden channels per row are read
    unsigned char* x_fp8;    // [num_tokens, kHidden] E4M3, contiguous
    void* x_scales;          // [num_tokens, kHidden / 128] float, or with UE8M0 [num_tokens, kHidden / 512] int32
    long long x_row_stride;  // elements between rows of x, a multiple of 4
    int num_tokens;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(Fp8CastParams, DEEPEP_FP8_CAST_PARAMS_SIZE);

constexpr int kFp8CastNumWarps = 8;
DEEPEP_CHECK_CONSTANT(kFp8CastNumWarps, DEEPEP_FP8_CAST_WARPS);

// One warp per (token, scale group); each lane owns 4 consecutive channels.
template <int kHidden, bool kRoundScale, bool kUseUe8m0>
__global__ void __launch_bounds__(kFp8CastNumWarps * kWarpSize) fp8_cast(const Fp8CastParams params) {
    static_assert(kHidden % kNumChannelsPerScale == 0, "kHidden must be a multiple of 128");
    static_assert(!kUseUe8m0 || kRoundScale, "UE8M0 stores only power-of-two scales");
    static_assert(!kUseUe8m0 || kHidden % (kNumChannelsPerScale * kNumScalesPerUe8m0Word) == 0,
                  "UE8M0 packs 4 scales per int32: kHidden must be a multiple of 512");
    constexpr int kNumScales = kHidden / kNumChannelsPerScale;
    constexpr int kChannelsPerLane = kFp8ChannelsPerLane;
    static_assert(kChannelsPerLane == 4, "the loads and stores below move 4 channels per lane");

    const int lane = lane_id();
    const long long num_groups = static_cast<long long>(params.num_tokens) * kNumScales;
    const long long num_warps = static_cast<long long>(gridDim.x) * kFp8CastNumWarps;

    for (long long group = static_cast<long long>(blockIdx.x) * kFp8CastNumWarps + warp_id(); group < num_groups;
         group += num_warps) {
        const long long token = group / kNumScales;
        const int scale_idx = static_cast<int>(group % kNumScales);
        const int channel = scale_idx * kNumChannelsPerScale + lane * kChannelsPerLane;

        // Read: 4 BF16 = 8 bytes per lane, read once.
        const int2 raw = ptx::ld_nc_no_allocate(reinterpret_cast<const int2*>(params.x + token * params.x_row_stride + channel));
        const __nv_bfloat16* values = reinterpret_cast<const __nv_bfloat16*>(&raw);
        float v[kChannelsPerLane];
        #pragma unroll
        for (int i = 0; i < kChannelsPerLane; ++i)
            v[i] = __bfloat162float(values[i]);
        float scale_inv;
        const unsigned int packed = cast_group_fp8<kRoundScale>(v, scale_inv);
        *reinterpret_cast<unsigned int*>(params.x_fp8 + token * kHidden + channel) = packed;
        if (lane == 0) {
            if constexpr (kUseUe8m0) {
                // Byte s % 4 of int32 s / 4, little-endian, is byte s of the row's scale bytes.
                static_cast<unsigned char*>(params.x_scales)[token * kNumScales + scale_idx] =
                    static_cast<unsigned char>(ue8m0_byte(scale_inv));
            } else {
                static_cast<float*>(params.x_scales)[token * kNumScales + scale_idx] = scale_inv;
            }
        }
    }
}

}  // namespace deep_ep
