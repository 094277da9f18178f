#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <deep_ep/common/utils.cuh>

// The per-token, per-128-channel FP8 E4M3 cast (spec 5.3), bit-for-bit that of DeepEP.Tensors.Fp8Cast.CastRow.

namespace deep_ep {

constexpr int kNumChannelsPerScale = 128;
constexpr int kNumScalesPerUe8m0Word = 4;
constexpr int kFp8ChannelsPerLane = kNumChannelsPerScale / kWarpSize;
DEEPEP_CHECK_CONSTANT(kNumChannelsPerScale, DEEPEP_CHANNELS_PER_SCALE);
DEEPEP_CHECK_CONSTANT(kNumScalesPerUe8m0Word, DEEPEP_SCALES_PER_UE8M0_WORD);

// One 128-channel group, one warp: each lane passes its 4 consecutive channels and gets them back as 4 E4M3 bytes
// (little-endian in the word); every lane gets the group's scale_inv. All 32 lanes must call it (warp-wide amax).
// Scale: IEEE division and a multiply by the float constant 1/448, or powers of two from the bits.
template <bool kRoundScale>
__device__ __forceinline__ unsigned int cast_group_fp8(const float (&v)[kFp8ChannelsPerLane], float& scale_inv) {
    float amax = 1e-4f;  // the floor is the start value, as in the reference
    #pragma unroll
    for (int i = 0; i < kFp8ChannelsPerLane; ++i)
        amax = fmaxf(amax, fabsf(v[i]));
    amax = warp_reduce_max(amax);
    float scale;
    if constexpr (kRoundScale) {
        const int e = ceil_log2_from_bits(amax * (1.0f / 448.0f));
        scale = exp2_from_bits(-e);
        scale_inv = exp2_from_bits(e);
    } else {
        scale = 448.0f / amax;
        scale_inv = amax * (1.0f / 448.0f);
    }
    unsigned int packed = 0;
    #pragma unroll
    for (int i = 0; i < kFp8ChannelsPerLane; ++i) {
        const __nv_fp8_storage_t q = __nv_cvt_float_to_fp8(v[i] * scale, __NV_SATFINITE, __NV_E4M3);
        packed |= static_cast<unsigned int>(q) << (8 * i);
    }
    return packed;
}

// The UE8M0 byte of a power-of-two scale: its exponent bits.
__device__ __forceinline__ unsigned int ue8m0_byte(float scale_inv) {
    return (__float_as_uint(scale_inv) >> 23) & 0xffu;
}

}  // namespace deep_ep
