#pragma once

#include <deep_ep/common/barrier.cuh>
#include <deep_ep/common/phase_trace.cuh>
#include <deep_ep/common/bf16.cuh>
#include <deep_ep/common/combine_target.cuh>
#include <deep_ep/common/row_placement.cuh>
#include <deep_ep/common/row_shape.cuh>

// Normal-mode combine (spec §3): each rank pulls, for every original token, the rows its destinations hold for it
// (row positions are the dispatch's, recomputed from the handle) and reduces bias + rank 0 + rank 1 + … in fp32,
// rounding once to BF16. Barriers at the kernel's entry and exit keep peers' inputs alive and complete while they are
// read.

namespace deep_ep {

constexpr int kSendHeadUnreached = -(1 << 25) - 1;

struct RewriteSendHeadParams {
    int* send_head;                  // [T, R], rewritten in place
    int num_tokens;
    int num_ranks;
    int num_channels;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(RewriteSendHeadParams, DEEPEP_REWRITE_SEND_HEAD_PARAMS_SIZE);

// Upstream's combine preparation (spec §2.5): an unselected entry becomes -(p)-1, p = the position of the next
// selected token in the same channel (the count of selected tokens before it), or -(2^25)-1 when none follows.
// Idempotent, so a handle combined twice keeps its value.
__global__ void rewrite_send_head(RewriteSendHeadParams p) {
    int start, end;
    channel_range(p.num_tokens, p.num_channels, blockIdx.x, start, end);
    const int lane = lane_id();
    for (int d = warp_id(); d < p.num_ranks; d += blockDim.x / kWarpSize) {
        int total = 0;
        for (int base = start; base < end; base += kWarpSize) {
            const int t = base + lane;
            total += __popc(__ballot_sync(0xffffffffu, t < end && p.send_head[static_cast<long long>(t) * p.num_ranks + d] >= 0));
        }
        int before = 0;
        for (int base = start; base < end; base += kWarpSize) {
            const int t = base + lane;
            int* entry = p.send_head + static_cast<long long>(t) * p.num_ranks + d;
            const bool selected = t < end && *entry >= 0;
            const unsigned mask = __ballot_sync(0xffffffffu, selected);
            if (t < end && !selected) {
                const int position = before + __popc(mask & ((1u << lane) - 1u));
                *entry = position < total ? -position - 1 : kSendHeadUnreached;
            }
            before += __popc(mask);
        }
    }
}

struct CombinePeer {
    const int4* x;                   // [M_d, hidden_int4] BF16, this peer's combine input
    const float* topk_weights;       // [M_d, K], or null
    long long num_rows;              // M_d
    long long row_shape;             // RowShape word of this rank's rows (hidden only: weights are checked above); must match
};

struct CombineParams : CombineTarget {
    CommHeader* headers[kMaxRanks];  // each rank's CombinePeer is in its mailbox
    long long peer_deltas[kMaxRanks];// added to the pointers each rank published (0 unless it is in another process)
    const int* rank_prefix_matrix;   // [R, R] inclusive, every column
    KernelDiagnostics* diagnostics;
    long long mailbox[kMailboxWords];// this rank's CombinePeer, published by the entry barrier
    unsigned long long timeout_ns;
    int rank;
    int epoch;                       // of the entry barrier; the exit barrier's is epoch + 1
};
DEEPEP_CHECK_PARAMS_SIZE(CombineParams, DEEPEP_COMBINE_PARAMS_SIZE);

constexpr int kCombineWarps = 16;
DEEPEP_CHECK_CONSTANT(kCombineWarps, DEEPEP_COMBINE_WARPS);
// 16-byte words per lane per pass; with two sources in flight and eight fp32 sums per word this fills the registers.
constexpr int kCombineUnroll = 4;
constexpr int kWeightBatch = 8;  // top-k weight loads in flight per lane

// One warp per token; every lane owns 16-byte words and keeps eight fp32 sums per word.
template <int kHiddenInt4>
__global__ void __launch_bounds__(kCombineWarps * kWarpSize) intranode_combine(CombineParams p) {
    __shared__ long long rows[kCombineWarps][kMaxRanks];
    __shared__ CombinePeer peers[kMaxRanks];
    const int lane = lane_id(), warp = warp_id();
    constexpr int kWordsPerLane = ceil_div(kHiddenInt4, kWarpSize);
    PhaseTimer timer;
    bool ok = entry_barrier(p.headers, p.rank, p.num_ranks, p.epoch, p.mailbox, p.timeout_ns, p.diagnostics);
    if (ok) {
        read_mailboxes<CombinePeer, 2>(p.headers, p.peer_deltas, p.num_ranks, peers);
        // A peer that passed no weights while this rank wants their sums is reported, never read through a null pointer.
        const bool missing_weights = p.combined_topk_weights != nullptr && threadIdx.x < p.num_ranks &&
                                     peers[threadIdx.x].topk_weights == nullptr && peers[threadIdx.x].num_rows > 0;
        if (missing_weights)
            report_failure(p.diagnostics, Deadline::start(0), p.rank, threadIdx.x, -1, kMissingTopkWeights, 1, 0);
        ok = !__syncthreads_or(missing_weights) && !row_shapes_differ(peers, p.rank, p.num_ranks, p.diagnostics);
    }
    timer.mark(kPhaseBarrier);

    // After a failure the block reads nothing but still arrives at the exit barrier.
    const int first_token = ok ? static_cast<int>(blockIdx.x) * kCombineWarps + warp : p.num_tokens;
    for (int t = first_token; t < p.num_tokens; t += gridDim.x * kCombineWarps) {
        long long row = -1;
        if (lane < p.num_ranks)
            row = destination_row(p.is_token_in_rank, p.send_head, p.channel_prefix_matrix, p.rank_prefix_matrix, t,
                                  lane, p.rank, p.num_ranks, p.num_tokens, p.num_channels);
        rows[warp][lane] = row;
        const unsigned sources = __ballot_sync(0xffffffffu, row >= 0);
        __syncwarp();

        const long long token_word = static_cast<long long>(t) * kHiddenInt4;
        #pragma unroll
        for (int base = 0; base < kWordsPerLane; base += kCombineUnroll) {
            float acc[kCombineUnroll][8];
            #pragma unroll
            for (int u = 0; u < kCombineUnroll; ++u) {
                const int i = (base + u) * kWarpSize + lane;
                #pragma unroll
                for (int j = 0; j < 8; ++j)
                    acc[u][j] = 0.0f;
                if (base + u < kWordsPerLane && i < kHiddenInt4) {
                    // Bias first: acc = bias0 + bias1 (each 0 when absent), as the spec orders it.
                    float other_bias[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                    if (p.bias0 != nullptr)
                        add_bf16x8(acc[u], p.bias0[token_word + i]);
                    if (p.bias1 != nullptr)
                        add_bf16x8(other_bias, p.bias1[token_word + i]);
                    #pragma unroll
                    for (int j = 0; j < 8; ++j)
                        acc[u][j] += other_bias[j];
                }
            }
            // Sources go in ascending pairs: both pairs' loads are in flight together (the remote one hides behind the
            // local one), and adding the first before the second keeps the spec's rank order.
            for (unsigned m = sources; m != 0;) {
                const int first = __ffs(m) - 1;
                m &= m - 1;
                const int second = m != 0 ? __ffs(m) - 1 : -1;
                m &= second >= 0 ? m - 1 : m;
                int4 words[2][kCombineUnroll];
                #pragma unroll
                for (int u = 0; u < kCombineUnroll; ++u) {
                    const int i = (base + u) * kWarpSize + lane;
                    if (base + u < kWordsPerLane && i < kHiddenInt4) {
                        words[0][u] = ptx::ld_nc_no_allocate(peers[first].x + rows[warp][first] * kHiddenInt4 + i);
                        if (second >= 0)
                            words[1][u] = ptx::ld_nc_no_allocate(peers[second].x + rows[warp][second] * kHiddenInt4 + i);
                    }
                }
                #pragma unroll
                for (int u = 0; u < kCombineUnroll; ++u) {
                    const int i = (base + u) * kWarpSize + lane;
                    if (base + u < kWordsPerLane && i < kHiddenInt4) {
                        add_bf16x8(acc[u], words[0][u]);
                        if (second >= 0)
                            add_bf16x8(acc[u], words[1][u]);
                    }
                }
            }
            #pragma unroll
            for (int u = 0; u < kCombineUnroll; ++u) {
                const int i = (base + u) * kWarpSize + lane;
                if (base + u < kWordsPerLane && i < kHiddenInt4) {
                    ptx::st_no_allocate(p.combined_x + token_word + i, round_bf16x8(acc[u]));
                }
            }
        }

        if (p.combined_topk_weights != nullptr && lane < p.num_topk) {
            // Sources in batches of kWeightBatch loads in flight (one round trip each, not one per source), summed in
            // ascending rank order as the spec orders it.
            float sum = 0.0f;
            for (unsigned m = sources; m != 0;) {
                float weights[kWeightBatch];
                #pragma unroll
                for (int b = 0; b < kWeightBatch; ++b) {
                    weights[b] = 0.0f;
                    if (m != 0) {
                        const int d = __ffs(m) - 1;
                        m &= m - 1;
                        weights[b] = peers[d].topk_weights[rows[warp][d] * p.num_topk + lane];
                    }
                }
                #pragma unroll
                for (int b = 0; b < kWeightBatch; ++b)
                    sum += weights[b];
            }
            p.combined_topk_weights[static_cast<long long>(t) * p.num_topk + lane] = sum;
        }
        __syncwarp();
    }
    timer.mark(kPhaseReduce);
    // No rank leaves before every peer has read its rows: the inputs stay alive and unchanged until then.
    exit_barrier(p.headers, p.rank, p.num_ranks, p.epoch + 1, p.timeout_ns, p.diagnostics);
    timer.mark(kPhaseBarrier);
}

}  // namespace deep_ep
