#pragma once

#include <deep_ep/common/bf16.cuh>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/logfmt_row.cuh>

// The NCCL backend's low-latency kernels (spec §5.3, §5.4). The host plans every transfer (NcclLowLatencyPlan.cs):
// messages to each destination in (local expert, token, top-k slot) order, so each expert's block from one source is
// contiguous and the receiver packs it at the rows the host computed. Combine sends the packed rows back in the
// receive order, so they land at the sender's staging positions, and the source reduces its top-k slots from there.
// A message is a 16-byte header (int 0 = source token) and the payload: BF16 row, or FP8 row then S float scales.
// Combine rows are BF16, or with kLogfmt LogFMT-10 messages in slots of logfmt_max_bytes(H) (spec 5.5): NCCL needs
// every size on the host before the encoder runs, so a whole slot travels whatever the message's length.

namespace deep_ep {

constexpr int kNcclLowLatencyWarps = 8;
DEEPEP_CHECK_CONSTANT(kNcclLowLatencyWarps, DEEPEP_NCCL_LOW_LATENCY_WARPS);
constexpr int kNcclLowLatencyHeaderBytes = 16;

struct NcclLowLatencyPackParams {
    const int2* x;                   // [T, H] BF16, 4 channels per int2
    const int* tokens;               // [M] source token of each message, in staging order
    unsigned char* staged;           // [M, message_bytes]
    int num_messages;
    int hidden;
    int message_bytes;
    int use_fp8;
    int round_scale;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclLowLatencyPackParams, DEEPEP_NCCL_LL_PACK_PARAMS_SIZE);

struct NcclLowLatencyUnpackParams {
    const unsigned char* received;   // [M, message_bytes], sources ascending
    const int* recv_rows;            // [M] packed row (e * R*N + j) of each received message
    const int* counts;               // [E_l] rows per local expert
    const long long* layout;         // [E_l, R] (begin << 32) | count
    unsigned char* packed_recv_x;    // [E_l, R*N, H] BF16 or FP8
    void* packed_recv_x_scales;      // [E_l][S][R*N] float, or [E_l][S/4][R*N] UE8M0 int32, or null
    int* packed_recv_count;          // [E_l]
    int* packed_recv_src_info;       // [E_l, R*N]
    long long* packed_recv_layout_range; // [E_l, R]
    int* cumulative_local_expert_recv_stats; // [E_l], or null
    int num_messages;
    int hidden;
    int message_bytes;
    int rows_per_expert;             // R*N
    int num_local_experts;
    int num_ranks;
    int use_fp8;
    int use_ue8m0;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclLowLatencyUnpackParams, DEEPEP_NCCL_LL_UNPACK_PARAMS_SIZE);

struct NcclLowLatencyGatherParams {
    const int4* x;                   // [E_l, R*N, H] BF16 at the strides below (even element counts)
    const int* rows;                 // [M] packed row (e * R*N + j) of each row to send, in receive order
    int4* staged;                    // [M, H] BF16, or [M] LogFMT-10 slots
    long long expert_stride;         // elements
    long long row_stride;            // elements
    int num_rows;
    int hidden;
    int rows_per_expert;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclLowLatencyGatherParams, DEEPEP_NCCL_LL_GATHER_PARAMS_SIZE);

struct NcclLowLatencyReduceParams {
    const int4* received;            // [M, H] BF16, or [M] LogFMT-10 slots, at this rank's dispatch staging positions
    const int* slots;                // [T, K] staging position of each (token, slot), -1 when nothing was sent
    const long long* topk_idx;       // [T, K]
    const float* topk_weights;       // [T, K]
    const int* masked;               // [R] 1 = owner masked now
    int4* combined_x;                // [T, H] BF16
    int num_tokens;
    int num_topk;
    int hidden;
    int num_experts;
    int num_local_experts;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclLowLatencyReduceParams, DEEPEP_NCCL_LL_REDUCE_PARAMS_SIZE);

// One warp per message: the header, then the BF16 row or its per-128-channel FP8 cast (the cast of fp8.cuh, as the
// kernels backend and the host reference do).
__global__ void __launch_bounds__(kNcclLowLatencyWarps * kWarpSize) nccl_low_latency_pack(NcclLowLatencyPackParams p) {
    const int lane = lane_id();
    const int num_groups = p.hidden / kNumChannelsPerScale;
    for (int m = blockIdx.x * kNcclLowLatencyWarps + warp_id(); m < p.num_messages; m += gridDim.x * kNcclLowLatencyWarps) {
        const int t = p.tokens[m];
        unsigned char* message = p.staged + static_cast<long long>(m) * p.message_bytes;
        if (lane == 0)
            *reinterpret_cast<int4*>(message) = make_int4(t, 0, 0, 0);
        unsigned char* payload = message + kNcclLowLatencyHeaderBytes;
        // The tail that rounds the message up to 16 bytes is sent too: zero it rather than send uninitialised bytes.
        const int used = kNcclLowLatencyHeaderBytes + (p.use_fp8 ? p.hidden + num_groups * static_cast<int>(sizeof(float)) : p.hidden * 2);
        for (int b = used + lane; b < p.message_bytes; b += kWarpSize)
            message[b] = 0;
        const int2* row = p.x + static_cast<long long>(t) * (p.hidden / 4);
        for (int g = 0; g < num_groups; ++g) {
            const int channel = g * kNumChannelsPerScale + lane * kFp8ChannelsPerLane;
            const int2 raw = __ldg(row + channel / 4);
            if (!p.use_fp8) {
                reinterpret_cast<int2*>(payload)[channel / 4] = raw;
                continue;
            }
            const __nv_bfloat16* values = reinterpret_cast<const __nv_bfloat16*>(&raw);
            float v[kFp8ChannelsPerLane];
            #pragma unroll
            for (int i = 0; i < kFp8ChannelsPerLane; ++i)
                v[i] = __bfloat162float(values[i]);
            float scale_inv;
            const unsigned int packed = p.round_scale ? cast_group_fp8<true>(v, scale_inv) : cast_group_fp8<false>(v, scale_inv);
            *reinterpret_cast<unsigned int*>(payload + channel) = packed;
            if (lane == 0)
                reinterpret_cast<float*>(payload + p.hidden)[g] = scale_inv;
        }
    }
}

// One warp per received message into its packed row; block 0 also writes counts, ranges and statistics.
__global__ void __launch_bounds__(kNcclLowLatencyWarps * kWarpSize) nccl_low_latency_unpack(NcclLowLatencyUnpackParams p) {
    if (blockIdx.x == 0) {
        for (int e = threadIdx.x; e < p.num_local_experts; e += blockDim.x) {
            p.packed_recv_count[e] = p.counts[e];
            if (p.cumulative_local_expert_recv_stats != nullptr)
                p.cumulative_local_expert_recv_stats[e] += p.counts[e];
        }
        for (int i = threadIdx.x; i < p.num_local_experts * p.num_ranks; i += blockDim.x)
            p.packed_recv_layout_range[i] = p.layout[i];
    }
    const int lane = lane_id();
    const int num_groups = p.hidden / kNumChannelsPerScale;
    const int row_bytes = p.use_fp8 ? p.hidden : p.hidden * 2;
    for (int m = blockIdx.x * kNcclLowLatencyWarps + warp_id(); m < p.num_messages; m += gridDim.x * kNcclLowLatencyWarps) {
        const unsigned char* message = p.received + static_cast<long long>(m) * p.message_bytes;
        const int row = p.recv_rows[m];
        const int expert = row / p.rows_per_expert;
        const int j = row % p.rows_per_expert;
        if (lane == 0)
            p.packed_recv_src_info[row] = *reinterpret_cast<const int*>(message);
        const int4* payload = reinterpret_cast<const int4*>(message + kNcclLowLatencyHeaderBytes);
        int4* destination = reinterpret_cast<int4*>(p.packed_recv_x + static_cast<long long>(row) * row_bytes);
        for (int i = lane; i < row_bytes / 16; i += kWarpSize)
            destination[i] = payload[i];
        if (!p.use_fp8)
            continue;
        const float* scales = reinterpret_cast<const float*>(message + kNcclLowLatencyHeaderBytes + p.hidden);
        if (!p.use_ue8m0) {
            float* out = static_cast<float*>(p.packed_recv_x_scales) + static_cast<long long>(expert) * num_groups * p.rows_per_expert + j;
            for (int g = lane; g < num_groups; g += kWarpSize)
                out[static_cast<long long>(g) * p.rows_per_expert] = scales[g];
        } else {
            const int num_words = num_groups / kNumScalesPerUe8m0Word;
            int* out = static_cast<int*>(p.packed_recv_x_scales) + static_cast<long long>(expert) * num_words * p.rows_per_expert + j;
            for (int w = lane; w < num_words; w += kWarpSize) {
                unsigned int word = 0;
                #pragma unroll
                for (int i = 0; i < kNumScalesPerUe8m0Word; ++i)
                    word |= ue8m0_byte(scales[w * kNumScalesPerUe8m0Word + i]) << (8 * i);
                out[static_cast<long long>(w) * p.rows_per_expert] = static_cast<int>(word);
            }
        }
    }
}

// One warp per row to return: the expert output row (strided, e.g. the zero-copy buffer) into the contiguous stage.
// Zero-copy rows are H + 2S elements apart, which is 16-byte aligned only for some H: others copy in 4-byte words.
// With kLogfmt the warp encodes the row into its slot instead.
template <bool kLogfmt>
__global__ void __launch_bounds__(kNcclLowLatencyWarps * kWarpSize) nccl_low_latency_gather(NcclLowLatencyGatherParams p) {
    const int lane = lane_id();
    const bool aligned = ((p.expert_stride | p.row_stride) & 7) == 0;
    for (int m = blockIdx.x * kNcclLowLatencyWarps + warp_id(); m < p.num_rows; m += gridDim.x * kNcclLowLatencyWarps) {
        const int row = p.rows[m];
        const long long offset = (row / p.rows_per_expert) * p.expert_stride + (row % p.rows_per_expert) * p.row_stride;
        if constexpr (kLogfmt) {
            __shared__ LogFmtRowScratch<kLogFmtMaxGroups> s_rows[kNcclLowLatencyWarps];
            unsigned char* slot = reinterpret_cast<unsigned char*>(p.staged) + static_cast<long long>(m) * logfmt_max_bytes(p.hidden);
            logfmt_encode_row(LogFmtWarpTeam(), reinterpret_cast<const unsigned short*>(p.x) + offset, p.hidden, slot, s_rows[warp_id()]);
        } else if (aligned) {
            const int4* source = p.x + offset / 8;
            int4* destination = p.staged + static_cast<long long>(m) * (p.hidden / 8);
            for (int i = lane; i < p.hidden / 8; i += kWarpSize)
                destination[i] = __ldg(source + i);
        } else {
            const int* source = reinterpret_cast<const int*>(p.x) + offset / 2;
            int* destination = reinterpret_cast<int*>(p.staged) + static_cast<long long>(m) * (p.hidden / 2);
            for (int i = lane; i < p.hidden / 2; i += kWarpSize)
                destination[i] = __ldg(source + i);
        }
    }
}

// One block per token: the BF16 reduction below on each LogFMT-10 message's decoded values, skipping the same slots.
__device__ __forceinline__ void nccl_low_latency_reduce_logfmt(const NcclLowLatencyReduceParams& p) {
    __shared__ long long s_offset[kMaxTopk];  // bytes into received, or -1
    __shared__ float s_weight[kMaxTopk];
    const int slot_bytes = logfmt_max_bytes(p.hidden);
    for (int t = blockIdx.x; t < p.num_tokens; t += gridDim.x) {
        for (int k = threadIdx.x; k < p.num_topk; k += blockDim.x) {
            const long long index = static_cast<long long>(t) * p.num_topk + k;
            const int slot = p.slots[index];
            const long long expert = p.topk_idx[index];
            const bool skip = slot < 0 || expert < 0 || expert >= p.num_experts || p.masked[expert / p.num_local_experts];
            s_offset[k] = skip ? -1 : static_cast<long long>(slot) * slot_bytes;
            s_weight[k] = p.topk_weights[index];
        }
        __syncthreads();
        // Ends synchronised, so s_offset and s_weight may be rewritten.
        logfmt_reduce_token<kLogFmtMaxGroups>(reinterpret_cast<const unsigned char*>(p.received), s_offset, s_weight, p.num_topk, p.hidden,
                                              reinterpret_cast<__nv_bfloat16*>(p.combined_x) + static_cast<long long>(t) * p.hidden);
    }
}

// One warp per token: acc = fma(value, weight, acc) over the top-k slots in ascending order, skipping -1 slots,
// slots nothing was sent for and masked owners, rounded to BF16 once (spec §5.4). kLogfmt: one block per token.
template <bool kLogfmt>
__global__ void __launch_bounds__(kNcclLowLatencyWarps * kWarpSize) nccl_low_latency_reduce(NcclLowLatencyReduceParams p) {
    if constexpr (kLogfmt) {
        nccl_low_latency_reduce_logfmt(p);
        return;
    }
    const int lane = lane_id();
    const int words = p.hidden / 8;
    for (int t = blockIdx.x * kNcclLowLatencyWarps + warp_id(); t < p.num_tokens; t += gridDim.x * kNcclLowLatencyWarps) {
        for (int i = lane; i < words; i += kWarpSize) {
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int k = 0; k < p.num_topk; ++k) {
                const long long index = static_cast<long long>(t) * p.num_topk + k;
                const int slot = p.slots[index];
                const long long expert = p.topk_idx[index];
                if (slot < 0 || expert < 0 || expert >= p.num_experts || p.masked[expert / p.num_local_experts])
                    continue;
                const float weight = p.topk_weights[index];
                const int4 word = p.received[static_cast<long long>(slot) * words + i];
                const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&word);
                #pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const float2 v = __bfloat1622float2(pairs[j]);
                    acc[2 * j] = __fmaf_rn(v.x, weight, acc[2 * j]);
                    acc[2 * j + 1] = __fmaf_rn(v.y, weight, acc[2 * j + 1]);
                }
            }
            p.combined_x[static_cast<long long>(t) * words + i] = round_bf16x8(acc);
        }
    }
}

}  // namespace deep_ep
