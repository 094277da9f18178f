#pragma once

#include <deep_ep/common/bf16.cuh>
#include <deep_ep/common/combine_target.cuh>
#include <deep_ep/common/dispatch_source.cuh>
#include <deep_ep/common/utils.cuh>

// The NCCL backend's kernels (spec §2, §3). NCCL moves contiguous blocks, so dispatch first packs every token into a
// per-destination staging buffer in receive order, and combine receives each destination's rows back into the same
// layout and reduces them here. Token t's staging row for rank d is
//   (tokens for lower destinations) + (d's tokens in earlier channels) + send_head[t][d],
// i.e. destination blocks in rank order, tokens ascending inside: exactly the order the receiver keeps (spec §2.3).

namespace deep_ep {

constexpr int kStagingWarps = 8;
DEEPEP_CHECK_CONSTANT(kStagingWarps, DEEPEP_STAGING_WARPS);

// x is [T, row_words]; the source's members come first in memory.
struct NcclPackParams : DispatchSource {
    int4* staged_x;                  // [N, row_words], N = rows sent to all destinations
    int* staged_x_scales;            // [N, S] row-major, or null
    int* staged_src_idx;             // [N], or null (cached dispatch)
    long long* staged_topk_idx;      // [N, K] rebased to the destination's local experts, or null
    float* staged_topk_weights;      // [N, K] zero where the rebased index is -1, or null
    int num_ranks;
    int num_channels;
    int row_words;                   // 16-byte words per row
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclPackParams, DEEPEP_NCCL_PACK_PARAMS_SIZE);

struct NcclReduceParams : CombineTarget {
    const int4* received_x;          // [N, row_words] BF16: the rows every destination returned, in staging order
    const float* received_topk_weights; // [N, K], or null
    int row_words;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(NcclReduceParams, DEEPEP_NCCL_REDUCE_PARAMS_SIZE);

// Each block computes the start of every destination's block once, into dynamic shared memory ([R] ints).
__device__ __forceinline__ void load_block_offsets(int* offsets, const int* channel_prefix, int num_ranks, int num_channels) {
    for (int d = threadIdx.x; d < num_ranks; d += blockDim.x) {
        int sum = 0;
        for (int e = 0; e < d; ++e)
            sum += channel_prefix[e * num_channels + num_channels - 1];
        offsets[d] = sum;
    }
    __syncthreads();
}

__device__ __forceinline__ long long staging_row(const int* offsets, const int* channel_prefix, const int* send_head,
                                                 int t, int d, int num_ranks, int num_tokens, int num_channels) {
    const int channel = t / ceil_div(num_tokens, num_channels);
    const int channel_offset = channel == 0 ? 0 : channel_prefix[d * num_channels + channel - 1];
    return static_cast<long long>(offsets[d]) + channel_offset + send_head[static_cast<long long>(t) * num_ranks + d];
}

// One warp per token: the row, its scales, source index and rebased top-k go to every selected destination's block.
__global__ void __launch_bounds__(kStagingWarps * kWarpSize) nccl_pack(NcclPackParams p) {
    extern __shared__ int block_offsets[];
    load_block_offsets(block_offsets, p.channel_prefix_matrix, p.num_ranks, p.num_channels);
    const int lane = lane_id();
    for (int t = blockIdx.x * kStagingWarps + warp_id(); t < p.num_tokens; t += gridDim.x * kStagingWarps) {
        const int4* source = p.x + static_cast<long long>(t) * p.row_words;
        for (int d = 0; d < p.num_ranks; ++d) {
            if (!p.is_token_in_rank[static_cast<long long>(t) * p.num_ranks + d])
                continue;
            const long long row = staging_row(block_offsets, p.channel_prefix_matrix, p.send_head, t, d, p.num_ranks,
                                              p.num_tokens, p.num_channels);
            int4* destination = p.staged_x + row * p.row_words;
            for (int i = lane; i < p.row_words; i += kWarpSize)
                destination[i] = __ldg(source + i);
            for (int s = lane; s < p.num_scales; s += kWarpSize)
                p.staged_x_scales[row * p.num_scales + s] =
                    reinterpret_cast<const int*>(p.x_scales)[t * p.scale_token_stride + s * p.scale_group_stride];
            if (lane == 0 && p.staged_src_idx != nullptr)
                p.staged_src_idx[row] = t;
            const long long first = static_cast<long long>(d) * p.experts_per_rank;
            for (int k = lane; p.staged_topk_idx != nullptr && k < p.num_topk; k += kWarpSize) {
                const long long expert = p.topk_idx[static_cast<long long>(t) * p.num_topk + k];
                const bool local = expert >= first && expert < first + p.experts_per_rank;
                p.staged_topk_idx[row * p.num_topk + k] = local ? expert - first : -1;
                p.staged_topk_weights[row * p.num_topk + k] = local ? p.topk_weights[static_cast<long long>(t) * p.num_topk + k] : 0.0f;
            }
        }
    }
}

// One warp per original token: acc = bias0 + bias1, then + the row of every rank that held the token, in ascending
// rank order, in fp32, rounded to BF16 once (spec §3); the top-k weights are summed in the same order.
__global__ void __launch_bounds__(kStagingWarps * kWarpSize) nccl_reduce(NcclReduceParams p) {
    extern __shared__ int block_offsets[];
    load_block_offsets(block_offsets, p.channel_prefix_matrix, p.num_ranks, p.num_channels);
    const int lane = lane_id();
    for (int t = blockIdx.x * kStagingWarps + warp_id(); t < p.num_tokens; t += gridDim.x * kStagingWarps) {
        const bool* in_rank = p.is_token_in_rank + static_cast<long long>(t) * p.num_ranks;
        const long long token_word = static_cast<long long>(t) * p.row_words;
        for (int i = lane; i < p.row_words; i += kWarpSize) {
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            float other_bias[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            if (p.bias0 != nullptr)
                add_bf16x8(acc, p.bias0[token_word + i]);
            if (p.bias1 != nullptr)
                add_bf16x8(other_bias, p.bias1[token_word + i]);
            #pragma unroll
            for (int j = 0; j < 8; ++j)
                acc[j] += other_bias[j];
            for (int d = 0; d < p.num_ranks; ++d) {
                if (!in_rank[d])
                    continue;
                const long long row = staging_row(block_offsets, p.channel_prefix_matrix, p.send_head, t, d,
                                                  p.num_ranks, p.num_tokens, p.num_channels);
                add_bf16x8(acc, p.received_x[row * p.row_words + i]);
            }
            p.combined_x[token_word + i] = round_bf16x8(acc);
        }
        for (int k = lane; p.combined_topk_weights != nullptr && k < p.num_topk; k += kWarpSize) {
            float sum = 0.0f;
            for (int d = 0; d < p.num_ranks; ++d) {
                if (!in_rank[d])
                    continue;
                const long long row = staging_row(block_offsets, p.channel_prefix_matrix, p.send_head, t, d,
                                                  p.num_ranks, p.num_tokens, p.num_channels);
                sum += p.received_topk_weights[row * p.num_topk + k];
            }
            p.combined_topk_weights[static_cast<long long>(t) * p.num_topk + k] = sum;
        }
    }
}

}  // namespace deep_ep
