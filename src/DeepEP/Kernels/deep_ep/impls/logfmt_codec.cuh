#pragma once

#include <deep_ep/common/logfmt_row.cuh>

// LogFMT-10 rows in and out of device memory, one block per row: the row codec of logfmt_row.cuh that the
// low-latency combines run inside their send and receive phases, as kernels of their own so that it can be checked
// against the host reference alone. Message r sits at messages + r * max_bytes; message_bytes[r] gets its length.

namespace deep_ep {

constexpr int kLogFmtThreads = 256;
DEEPEP_CHECK_CONSTANT(kLogFmtThreads, DEEPEP_LOGFMT_THREADS);

// C# twin: DeepEP.Runtimes.LogFmtCodecParams.
struct LogFmtCodecParams {
    const unsigned short* x;      // [num_rows, hidden] BF16 bits (encode)
    unsigned char* messages;      // [num_rows, max_bytes] (encode writes, decode reads)
    int* message_bytes;           // [num_rows] (encode writes)
    float* decoded;               // [num_rows, hidden] (decode writes)
    long long max_bytes;          // a multiple of 16, at least 4S + 2H
    int num_rows;
    int hidden;                   // a multiple of 512, at most 128 * kLogFmtMaxGroups
};
DEEPEP_CHECK_PARAMS_SIZE(LogFmtCodecParams, DEEPEP_LOGFMT_CODEC_PARAMS_SIZE);

__global__ void __launch_bounds__(kLogFmtThreads) logfmt_encode(const LogFmtCodecParams p) {
    __shared__ LogFmtRowScratch<kLogFmtMaxGroups> s;
    for (int row = blockIdx.x; row < p.num_rows; row += gridDim.x) {
        const int bytes = logfmt_encode_row(LogFmtBlockTeam(), p.x + static_cast<long long>(row) * p.hidden, p.hidden,
                                            p.messages + static_cast<long long>(row) * p.max_bytes, s);
        if (threadIdx.x == 0)
            p.message_bytes[row] = bytes;
    }
}

__global__ void __launch_bounds__(kLogFmtThreads) logfmt_decode(const LogFmtCodecParams p) {
    __shared__ LogFmtLayout<kLogFmtMaxGroups> s;
    const int stages = p.hidden / logfmt_stage_values(p.hidden);
    for (int row = blockIdx.x; row < p.num_rows; row += gridDim.x) {
        const unsigned char* message = p.messages + static_cast<long long>(row) * p.max_bytes;
        float* out = p.decoded + static_cast<long long>(row) * p.hidden;
        for (int stage = threadIdx.x; stage < stages; stage += blockDim.x)
            s.classify(reinterpret_cast<const unsigned short*>(message), p.hidden, stage);
        __syncthreads();
        s.place(p.hidden, threadIdx.x, blockDim.x);
        __syncthreads();
        for (int u = threadIdx.x; u < p.hidden / kLogFmtUnitValues; u += blockDim.x) {
            float v[kLogFmtUnitValues];
            logfmt_decode_unit(message, s, p.hidden, u, v);
            #pragma unroll
            for (int j = 0; j < kLogFmtUnitValues; ++j)
                out[u * kLogFmtUnitValues + j] = v[j];
        }
        __syncthreads();  // the layout is rewritten for the next row
    }
}

}  // namespace deep_ep
