#pragma once

#include <deep_ep/common/bf16.cuh>
#include <deep_ep/common/logfmt.cuh>

// LogFMT-10 rows (format in logfmt.cuh): a row encoded by a team of threads (one warp, or a whole block), a unit
// decoded by one thread, and a token's top-k messages decoded and reduced by a block. The codec kernels, the
// low-latency combine and the NCCL backend's combine all run these, so every path gives the host's bits. Messages
// start 16-byte aligned (every stage offset is then a multiple of 16 as well).

namespace deep_ep {

constexpr int kLogFmtMaxGroups = 256;  // H <= 32768: the scratch of kernels whose H is not a template argument
DEEPEP_CHECK_CONSTANT(kLogFmtMaxGroups, DEEPEP_LOGFMT_MAX_GROUPS);

// The threads that work on one row: a block, or one warp of it. Sizes are multiples of the warp size.
struct LogFmtBlockTeam {
    __device__ __forceinline__ int rank() const { return threadIdx.x; }
    __device__ __forceinline__ int size() const { return blockDim.x; }
    __device__ __forceinline__ int warp() const { return warp_id(); }
    __device__ __forceinline__ int warps() const { return blockDim.x / kWarpSize; }
    __device__ __forceinline__ void sync() const { __syncthreads(); }
};

struct LogFmtWarpTeam {
    __device__ __forceinline__ int rank() const { return lane_id(); }
    __device__ __forceinline__ int size() const { return kWarpSize; }
    __device__ __forceinline__ int warp() const { return 0; }
    __device__ __forceinline__ int warps() const { return 1; }
    __device__ __forceinline__ void sync() const { __syncwarp(); }
};

// Which stages of one message are encoded and where each starts. A stage is at least 4 groups.
template <int kMaxGroups>
struct LogFmtLayout {
    int offset[kMaxGroups / 4];
    bool encoded[kMaxGroups / 4];

    // Stage `stage` from the meta ((amax, amin) bit pairs: the message's head, or a copy of it).
    __device__ __forceinline__ void classify(const unsigned short* meta, int hidden, int stage) {
        const int groups_per_stage = logfmt_stage_values(hidden) / kLogFmtGroupChannels;
        encoded[stage] = logfmt_stage_encoded(meta, stage * groups_per_stage, groups_per_stage);
    }

    // Once every stage is classified: the offsets of the stages s with s % step == first; returns the message length.
    __device__ __forceinline__ int place(int hidden, int first, int step) {
        const int stage_values = logfmt_stage_values(hidden);
        int bytes = 4 * (hidden / kLogFmtGroupChannels);
        for (int s = 0; s < hidden / stage_values; ++s) {
            if (s % step == first)
                offset[s] = bytes;
            bytes += logfmt_stage_bytes(encoded[s], stage_values);
        }
        return bytes;
    }
};

// One row's meta and layout while a team encodes it.
template <int kMaxGroups>
struct LogFmtRowScratch {
    unsigned short meta[2 * kMaxGroups];
    LogFmtLayout<kMaxGroups> layout;
};

// 8 BF16 bit patterns from p, which is at least 4-byte aligned (strided expert outputs need not be 16).
__device__ __forceinline__ void logfmt_load8(const unsigned short* p, unsigned short* v) {
    unsigned int w[4];
    if ((reinterpret_cast<unsigned long long>(p) & 15) == 0) {
        const int4 q = *reinterpret_cast<const int4*>(p);
        w[0] = q.x, w[1] = q.y, w[2] = q.z, w[3] = q.w;
    } else {
        #pragma unroll
        for (int i = 0; i < 4; ++i)
            w[i] = reinterpret_cast<const unsigned int*>(p)[i];
    }
    #pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[2 * i] = static_cast<unsigned short>(w[i] & 0xffffu);
        v[2 * i + 1] = static_cast<unsigned short>(w[i] >> 16);
    }
}

// The inverse of logfmt_load8: 8 BF16 bit patterns as one 16-byte word.
__device__ __forceinline__ int4 logfmt_pack8(const unsigned short* v) {
    unsigned int w[4];
    #pragma unroll
    for (int i = 0; i < 4; ++i)
        w[i] = v[2 * i] | (static_cast<unsigned int>(v[2 * i + 1]) << 16);
    return make_int4(static_cast<int>(w[0]), static_cast<int>(w[1]), static_cast<int>(w[2]), static_cast<int>(w[3]));
}

// Encodes x (hidden BF16 values) into message; returns its length. Every thread of the team calls it; it ends with
// the team synchronised, so the scratch may be reused at once.
template <int kMaxGroups, typename Team>
__device__ __forceinline__ int logfmt_encode_row(const Team& team, const unsigned short* x, int hidden, unsigned char* message,
                                                 LogFmtRowScratch<kMaxGroups>& s) {
    // Meta: half a warp per group, 8 channels a lane. BF16 magnitudes order as their bits (NaN aside), so the
    // max and min of the bits are exact in any order. Groups come in pairs (H is a multiple of 512).
    const int groups = hidden / kLogFmtGroupChannels, lane = lane_id();
    for (int pair = team.warp(); pair < groups / 2; pair += team.warps()) {
        const int g = 2 * pair + lane / 16;
        unsigned short v[8];
        logfmt_load8(x + g * kLogFmtGroupChannels + (lane % 16) * 8, v);
        unsigned int amax = 0, amin = 0x7f80;
        #pragma unroll
        for (int i = 0; i < 8; ++i) {
            const unsigned int magnitude = v[i] & 0x7fffu;
            amax = magnitude > amax ? magnitude : amax;
            amin = magnitude < amin ? magnitude : amin;
        }
        #pragma unroll
        for (int offset = 8; offset > 0; offset /= 2) {
            const unsigned int other_max = __shfl_xor_sync(0xffffffffu, amax, offset);
            const unsigned int other_min = __shfl_xor_sync(0xffffffffu, amin, offset);
            amax = other_max > amax ? other_max : amax;
            amin = other_min < amin ? other_min : amin;
        }
        if (lane % 16 == 0) {
            s.meta[2 * g] = static_cast<unsigned short>(amax);
            s.meta[2 * g + 1] = static_cast<unsigned short>(amin);
            reinterpret_cast<unsigned int*>(message)[g] = amax | (amin << 16);
        }
    }
    team.sync();
    const int stage_values = logfmt_stage_values(hidden);
    for (int stage = team.rank(); stage < hidden / stage_values; stage += team.size())
        s.layout.classify(s.meta, hidden, stage);
    team.sync();
    const int bytes = s.layout.place(hidden, team.rank(), team.size());
    team.sync();

    // One thread per 16-value unit: five packed words, or the 16 raw values.
    for (int u = team.rank(); u < hidden / kLogFmtUnitValues; u += team.size()) {
        const int first = u * kLogFmtUnitValues, stage = first / stage_values, in_stage = first % stage_values;
        unsigned short v[kLogFmtUnitValues];
        logfmt_load8(x + first, v);
        logfmt_load8(x + first + 8, v + 8);
        if (!s.layout.encoded[stage]) {
            int4* raw = reinterpret_cast<int4*>(message + s.layout.offset[stage] + 2 * in_stage);
            raw[0] = logfmt_pack8(v);
            raw[1] = logfmt_pack8(v + 8);
            continue;
        }
        unsigned int words[5];
        logfmt_pack_unit(v, logfmt_grid(s.meta, first / kLogFmtGroupChannels), words);
        unsigned int* out = reinterpret_cast<unsigned int*>(message + s.layout.offset[stage] + in_stage / kLogFmtUnitValues * kLogFmtUnitBytes);
        #pragma unroll
        for (int w = 0; w < 5; ++w)
            out[w] = words[w];
    }
    team.sync();
    return bytes;
}

// The 16 values of unit `unit` of a message whose layout is known.
template <int kMaxGroups>
__device__ __forceinline__ void logfmt_decode_unit(const unsigned char* message, const LogFmtLayout<kMaxGroups>& layout, int hidden, int unit,
                                                   float (&values)[kLogFmtUnitValues]) {
    const int stage_values = logfmt_stage_values(hidden);
    const int first = unit * kLogFmtUnitValues, stage = first / stage_values, in_stage = first % stage_values;
    if (!layout.encoded[stage]) {
        const int4* raw = reinterpret_cast<const int4*>(message + layout.offset[stage] + 2 * in_stage);
        #pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int4 q = raw[half];
            const unsigned int w[4] = {static_cast<unsigned int>(q.x), static_cast<unsigned int>(q.y), static_cast<unsigned int>(q.z), static_cast<unsigned int>(q.w)};
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                values[8 * half + 2 * i] = __uint_as_float(w[i] << 16);
                values[8 * half + 2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
            }
        }
        return;
    }
    const unsigned int* packed = reinterpret_cast<const unsigned int*>(message + layout.offset[stage] + in_stage / kLogFmtUnitValues * kLogFmtUnitBytes);
    unsigned int words[5];
    #pragma unroll
    for (int w = 0; w < 5; ++w)
        words[w] = packed[w];
    logfmt_unpack_unit(words, logfmt_grid(reinterpret_cast<const unsigned short*>(message), first / kLogFmtGroupChannels), values);
}

// Block-wide: out = BF16(acc) with acc = fma(decoded_k, weights[k], acc) over k ascending, the host reference's
// reduction; the message of slot k is at base + offsets[k] bytes, and slots with offsets[k] < 0 are skipped.
// offsets and weights are visible to the whole block (shared memory); the caller synchronises before rewriting them.
template <int kMaxGroups>
__device__ __forceinline__ void logfmt_reduce_token(const unsigned char* base, const long long* offsets, const float* weights, int num_topk,
                                                    int hidden, __nv_bfloat16* out) {
    __shared__ LogFmtLayout<kMaxGroups> s_layouts[kMaxTopk];
    const int stages = hidden / logfmt_stage_values(hidden);
    for (int i = threadIdx.x; i < num_topk * stages; i += blockDim.x) {
        const int k = i / stages;
        if (offsets[k] >= 0)
            s_layouts[k].classify(reinterpret_cast<const unsigned short*>(base + offsets[k]), hidden, i % stages);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < num_topk; k += blockDim.x) {
        if (offsets[k] >= 0)
            s_layouts[k].place(hidden, 0, 1);
    }
    __syncthreads();
    for (int u = threadIdx.x; u < hidden / kLogFmtUnitValues; u += blockDim.x) {
        float acc[kLogFmtUnitValues] = {};
        for (int k = 0; k < num_topk; ++k) {
            if (offsets[k] < 0)
                continue;
            float v[kLogFmtUnitValues];
            logfmt_decode_unit(base + offsets[k], s_layouts[k], hidden, u, v);
            const float weight = weights[k];
            #pragma unroll
            for (int j = 0; j < kLogFmtUnitValues; ++j)
                acc[j] = __fmaf_rn(v[j], weight, acc[j]);
        }
        float low[8], high[8];
        #pragma unroll
        for (int j = 0; j < 8; ++j)
            low[j] = acc[j], high[j] = acc[8 + j];
        int4* row = reinterpret_cast<int4*>(out + u * kLogFmtUnitValues);
        row[0] = round_bf16x8(low);
        row[1] = round_bf16x8(high);
    }
    __syncthreads();  // s_layouts is rewritten for the next token
}

}  // namespace deep_ep
