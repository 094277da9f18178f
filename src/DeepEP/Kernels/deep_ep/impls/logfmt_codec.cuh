#pragma once

#include <deep_ep/common/logfmt.cuh>

// LogFMT-10 rows in and out of device memory, one block per row: the codec the low-latency combine will run inside
// its send and receive phases, as kernels of their own so that it can be checked against the host reference alone.
// Message r sits at messages + r * max_bytes; message_bytes[r] gets its length.

namespace deep_ep {

constexpr int kLogFmtMaxGroups = 256;  // H <= 32768
DEEPEP_CHECK_CONSTANT(kLogFmtMaxGroups, DEEPEP_LOGFMT_MAX_GROUPS);
constexpr int kLogFmtThreads = 256;
DEEPEP_CHECK_CONSTANT(kLogFmtThreads, DEEPEP_LOGFMT_THREADS);

// C# twin: DeepEP.Runtimes.LogFmtCodecParams.
struct LogFmtCodecParams {
    const unsigned short* x;      // [num_rows, hidden] BF16 bits (encode)
    unsigned char* messages;      // [num_rows, max_bytes] (encode writes, decode reads)
    int* message_bytes;           // [num_rows] (encode writes)
    float* decoded;               // [num_rows, hidden] (decode writes)
    long long max_bytes;          // a multiple of 4, at least 4S + 2H
    int num_rows;
    int hidden;                   // a multiple of 512, at most 128 * kLogFmtMaxGroups
};
DEEPEP_CHECK_PARAMS_SIZE(LogFmtCodecParams, DEEPEP_LOGFMT_CODEC_PARAMS_SIZE);

// One row's meta and stage layout, in shared memory.
struct LogFmtRowLayout {
    unsigned short meta[2 * kLogFmtMaxGroups];  // (amax, amin) bits per group
    int offset[kLogFmtMaxGroups];               // each stage's byte offset in the message
    bool encoded[kLogFmtMaxGroups];             // whether each stage is encoded

    // Run by one thread once meta is set; returns the message length.
    __device__ __forceinline__ int lay_out(int hidden) {
        const int stage_values = logfmt_stage_values(hidden), groups_per_stage = stage_values / kLogFmtGroupChannels;
        int bytes = 4 * (hidden / kLogFmtGroupChannels);
        for (int s = 0; s < hidden / stage_values; ++s) {
            offset[s] = bytes;
            encoded[s] = logfmt_stage_encoded(meta, s * groups_per_stage, groups_per_stage);
            bytes += encoded[s] ? stage_values / kLogFmtUnitValues * kLogFmtUnitBytes : 2 * stage_values;
        }
        return bytes;
    }
};

__global__ void __launch_bounds__(kLogFmtThreads) logfmt_encode(const LogFmtCodecParams p) {
    __shared__ LogFmtRowLayout s;
    const int groups = p.hidden / kLogFmtGroupChannels, stage_values = logfmt_stage_values(p.hidden);
    for (int row = blockIdx.x; row < p.num_rows; row += gridDim.x) {
        const unsigned short* x = p.x + static_cast<long long>(row) * p.hidden;
        unsigned char* message = p.messages + static_cast<long long>(row) * p.max_bytes;
        for (int g = threadIdx.x; g < groups; g += blockDim.x) {
            unsigned short amax = 0, amin = 0x7f80;  // BF16 magnitudes order as their bits (NaN aside)
            for (int i = 0; i < kLogFmtGroupChannels; ++i) {
                const unsigned short magnitude = x[g * kLogFmtGroupChannels + i] & 0x7fffu;
                amax = magnitude > amax ? magnitude : amax;
                amin = magnitude < amin ? magnitude : amin;
            }
            s.meta[2 * g] = amax;
            s.meta[2 * g + 1] = amin;
            reinterpret_cast<unsigned int*>(message)[g] = amax | (static_cast<unsigned int>(amin) << 16);
        }
        __syncthreads();
        if (threadIdx.x == 0)
            p.message_bytes[row] = s.lay_out(p.hidden);
        __syncthreads();
        // One thread per 16-value unit: 16 codes and signs into five little-endian words, or 16 raw BF16 values.
        for (int u = threadIdx.x; u < p.hidden / kLogFmtUnitValues; u += blockDim.x) {
            const int first = u * kLogFmtUnitValues, stage = first / stage_values, in_stage = first % stage_values;
            if (!s.encoded[stage]) {
                unsigned short* raw = reinterpret_cast<unsigned short*>(message + s.offset[stage]) + in_stage;
                for (int j = 0; j < kLogFmtUnitValues; ++j)
                    raw[j] = x[first + j];
                continue;
            }
            const LogFmtGrid grid = logfmt_grid(s.meta, first / kLogFmtGroupChannels);
            unsigned int words[5] = {0, 0, 0, 0, 0};
            for (int j = 0; j < kLogFmtUnitValues; ++j) {
                const unsigned short v = x[first + j];
                const unsigned int code = static_cast<unsigned int>(grid.code(v));
                const int bit = 9 * j;
                words[bit / 32] |= code << (bit % 32);
                if (bit % 32 > 23)  // the code straddles two words
                    words[bit / 32 + 1] |= code >> (32 - bit % 32);
                if (code != 0 && (v & 0x8000u) != 0)
                    words[4] |= 1u << (144 + j - 128);
            }
            unsigned int* out = reinterpret_cast<unsigned int*>(message + s.offset[stage] + in_stage / kLogFmtUnitValues * kLogFmtUnitBytes);
            for (int w = 0; w < 5; ++w)
                out[w] = words[w];
        }
        __syncthreads();  // the layout is rewritten for the next row
    }
}

__global__ void __launch_bounds__(kLogFmtThreads) logfmt_decode(const LogFmtCodecParams p) {
    __shared__ LogFmtRowLayout s;
    const int groups = p.hidden / kLogFmtGroupChannels, stage_values = logfmt_stage_values(p.hidden);
    for (int row = blockIdx.x; row < p.num_rows; row += gridDim.x) {
        const unsigned char* message = p.messages + static_cast<long long>(row) * p.max_bytes;
        float* out = p.decoded + static_cast<long long>(row) * p.hidden;
        for (int i = threadIdx.x; i < 2 * groups; i += blockDim.x)
            s.meta[i] = reinterpret_cast<const unsigned short*>(message)[i];
        __syncthreads();
        if (threadIdx.x == 0)
            s.lay_out(p.hidden);
        __syncthreads();
        for (int u = threadIdx.x; u < p.hidden / kLogFmtUnitValues; u += blockDim.x) {
            const int first = u * kLogFmtUnitValues, stage = first / stage_values, in_stage = first % stage_values;
            if (!s.encoded[stage]) {
                const unsigned short* raw = reinterpret_cast<const unsigned short*>(message + s.offset[stage]) + in_stage;
                for (int j = 0; j < kLogFmtUnitValues; ++j)
                    out[first + j] = __uint_as_float(static_cast<unsigned int>(raw[j]) << 16);
                continue;
            }
            const LogFmtGrid grid = logfmt_grid(s.meta, first / kLogFmtGroupChannels);
            const unsigned int* words = reinterpret_cast<const unsigned int*>(message + s.offset[stage] + in_stage / kLogFmtUnitValues * kLogFmtUnitBytes);
            for (int j = 0; j < kLogFmtUnitValues; ++j) {
                const int bit = 9 * j;
                unsigned int code = words[bit / 32] >> (bit % 32);
                if (bit % 32 > 23)
                    code |= words[bit / 32 + 1] << (32 - bit % 32);
                code &= 0x1ffu;
                const float magnitude = grid.value(static_cast<int>(code));
                out[first + j] = (words[4] >> (144 + j - 128) & 1u) != 0 ? -magnitude : magnitude;
            }
        }
        __syncthreads();
    }
}

}  // namespace deep_ep
