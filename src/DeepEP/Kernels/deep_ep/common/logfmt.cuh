#pragma once

#include <cuda_bf16.h>
#include <deep_ep/common/portable_math.cuh>

// LogFMT-10 (spec 5.5), bit for bit the host reference DeepEP.Tensors.LogFmt10: a message is S (amax, amin)
// BF16 pairs of |x| per 128-channel group, then the row in stages of 32 x U 16-byte words (U = 4 when H % 1024 == 0,
// else 2); a stage whose every group has amax < 1 and lm < la is encoded as 9-bit codes and sign bits, 16 values per
// 160-bit unit (code j at bits [9j, 9j + 9), sign j at bit 144 + j), any other stage is raw BF16.

namespace deep_ep {

constexpr int kLogFmtGroupChannels = 128;
constexpr int kLogFmtUnitValues = 16;
constexpr int kLogFmtUnitBytes = 20;
constexpr int kLogFmtMaxCode = 511;

__host__ __device__ __forceinline__ int logfmt_stage_values(int hidden) { return 32 * (hidden % 1024 == 0 ? 4 : 2) * 8; }

// The longest message, every stage raw: the meta and the BF16 row (C# twin: LogFmt10.MaxBytes); a multiple of 16 for
// the hidden sizes LogFMT-10 takes (multiples of 512).
__host__ __device__ constexpr int logfmt_max_bytes(int hidden) { return 4 * (hidden / kLogFmtGroupChannels) + 2 * hidden; }

__host__ __device__ __forceinline__ int logfmt_stage_bytes(bool encoded, int stage_values) {
    return encoded ? stage_values / kLogFmtUnitValues * kLogFmtUnitBytes : 2 * stage_values;
}

// One group's code grid (C# twin: LogFmt10.GroupGrid).
struct LogFmtGrid {
    float lm, step, bias, lm_over_step;

    __device__ __forceinline__ static LogFmtGrid make(float la, float lm) {
        LogFmtGrid g;
        g.lm = lm;
        g.step = __fdiv_rn(__fsub_rn(la, lm), 510.0f);
        const float half = __fdiv_rn(__fadd_rn(1.0f, portable_exp2(g.step)), 2.0f);
        g.bias = __fsub_rn(2.0f, __fdiv_rn(portable_log2(half), g.step));
        g.lm_over_step = __fdiv_rn(lm, g.step);
        return g;
    }

    __device__ __forceinline__ int code(unsigned short bits) const {
        const float magnitude = __uint_as_float(static_cast<unsigned int>(bits & 0x7fffu) << 16);
        const float scaled = __fsub_rn(__fadd_rn(__fdiv_rn(portable_log2(magnitude), step), bias), lm_over_step);
        return static_cast<int>(fminf(floorf(fmaxf(scaled, 0.0f)), static_cast<float>(kLogFmtMaxCode)));
    }

    __device__ __forceinline__ float value(int code) const {
        return code == 0 ? 0.0f : portable_exp2(__fmaf_rn(static_cast<float>(code - 1), step, lm));
    }
};

// la and lm of a group from its meta pair; false when the group cannot be encoded (amax >= 1 or NaN, or lm >= la).
__device__ __forceinline__ bool logfmt_group(unsigned short amax_bits, unsigned short amin_bits, float& la, float& lm) {
    la = portable_log2(__uint_as_float(static_cast<unsigned int>(amax_bits) << 16));
    const float log_min = portable_log2(__uint_as_float(static_cast<unsigned int>(amin_bits) << 16));
    // NOTES: the host takes MathF.Max, which returns NaN for a NaN input where fmaxf does not; a NaN la fails the
    // test below either way, so the outcome is the same.
    lm = fmaxf(log_min, __fsub_rn(la, 32.0f));
    return la < 0.0f && lm < la;
}

// Whether the stage of `count` groups starting at `first` is encoded; meta holds (amax, amin) bit pairs.
__device__ __forceinline__ bool logfmt_stage_encoded(const unsigned short* meta, int first, int count) {
    for (int g = first; g < first + count; ++g) {
        float la, lm;
        if (!logfmt_group(meta[2 * g], meta[2 * g + 1], la, lm))
            return false;
    }
    return true;
}

__device__ __forceinline__ LogFmtGrid logfmt_grid(const unsigned short* meta, int group) {
    float la, lm;
    logfmt_group(meta[2 * group], meta[2 * group + 1], la, lm);
    return LogFmtGrid::make(la, lm);
}

// 16 values (BF16 bits) of one group into a 160-bit unit: code j at bits [9j, 9j + 9), sign j at bit 144 + j.
__device__ __forceinline__ void logfmt_pack_unit(const unsigned short (&values)[kLogFmtUnitValues], const LogFmtGrid& grid, unsigned int (&words)[5]) {
    #pragma unroll
    for (int w = 0; w < 5; ++w)
        words[w] = 0;
    #pragma unroll
    for (int j = 0; j < kLogFmtUnitValues; ++j) {
        const unsigned int code = static_cast<unsigned int>(grid.code(values[j]));
        const int bit = 9 * j;
        words[bit / 32] |= code << (bit % 32);
        if (bit % 32 > 23)  // the code straddles two words
            words[bit / 32 + 1] |= code >> (32 - bit % 32);
        if (code != 0 && (values[j] & 0x8000u) != 0)
            words[4] |= 1u << (144 + j - 128);
    }
}

// The 16 values of a unit packed by logfmt_pack_unit.
__device__ __forceinline__ void logfmt_unpack_unit(const unsigned int (&words)[5], const LogFmtGrid& grid, float (&values)[kLogFmtUnitValues]) {
    #pragma unroll
    for (int j = 0; j < kLogFmtUnitValues; ++j) {
        const int bit = 9 * j;
        unsigned int code = words[bit / 32] >> (bit % 32);
        if (bit % 32 > 23)
            code |= words[bit / 32 + 1] << (32 - bit % 32);
        code &= 0x1ffu;
        const float magnitude = grid.value(static_cast<int>(code));
        values[j] = (words[4] >> (144 + j - 128) & 1u) != 0 ? -magnitude : magnitude;
    }
}

}  // namespace deep_ep
