#pragma once

#include <deep_ep/common/barrier.cuh>
#include <deep_ep/common/phase_trace.cuh>
#include <deep_ep/common/dispatch_source.cuh>
#include <deep_ep/common/row_placement.cuh>
#include <deep_ep/common/row_shape.cuh>

// Normal-mode dispatch (spec §2): every sender writes each selected token straight into its final row of every
// destination's outputs, so each byte crosses NVLink once and no receiver-side copy pass is needed. The row of token
// t at destination d is (tokens of lower ranks to d) + (this rank's tokens to d in earlier channels) + send_head[t][d],
// which gives exactly the (source rank, source token) order. Barriers at the kernel's entry and exit order the writes
// against the destinations' streams (common/barrier.cuh).

namespace deep_ep {

struct DispatchPeer {
    int4* recv_x;                    // [M_d, hidden_int4]
    float* recv_x_scales;            // [M_d, S] row-major (UE8M0 Int32 words are copied as the same 4 bytes)
    int* recv_src_idx;               // [M_d]
    long long* recv_topk_idx;        // [M_d, K], or null without top-k
    float* recv_topk_weights;        // [M_d, K], or null without top-k
    long long capacity;              // rows of this destination's outputs; never written past
    long long row_shape;             // RowShape word of this destination's call; must equal the sender's
};

// x is [T, hidden_int4]; the source's members come first in memory.
struct DispatchParams : DispatchSource {
    CommHeader* headers[kMaxRanks];  // each destination's DispatchPeer is in its mailbox
    long long peer_deltas[kMaxRanks];// added to the pointers each destination published (0 unless it is in another process)
    const int* rank_prefix_matrix;   // [R, R] inclusive, every column
    KernelDiagnostics* diagnostics;
    long long mailbox[kMailboxWords];// this rank's DispatchPeer, published by the entry barrier
    unsigned long long timeout_ns;
    int num_ranks;
    int rank;
    int num_channels;
    int epoch;                       // of the entry barrier; the exit barrier's is epoch + 1
};
DEEPEP_CHECK_PARAMS_SIZE(DispatchParams, DEEPEP_DISPATCH_PARAMS_SIZE);

constexpr int kDispatchWarps = 16;
DEEPEP_CHECK_CONSTANT(kDispatchWarps, DEEPEP_DISPATCH_WARPS);
// 16-byte words each lane keeps in flight: 7 divides the 28 (BF16) and 14 (FP8) words per lane of H = 7168.
constexpr int kDispatchUnroll = 7;
constexpr int kScaleSlots = 2;  // scales per lane loaded with the row (H = 7168 FP8 has 56); any more are read after it

// Round `round` of a token's copy: words (round * kDispatchUnroll + u) * 32 + lane of the row, u < kDispatchUnroll.
template <int kHiddenInt4>
__device__ __forceinline__ void load_words(int4 (&words)[kDispatchUnroll], const int4* source, int round) {
    constexpr int kWordsPerLane = ceil_div(kHiddenInt4, kWarpSize);
    #pragma unroll
    for (int u = 0; u < kDispatchUnroll; ++u) {
        const int i = (round * kDispatchUnroll + u) * kWarpSize + lane_id();
        if (round * kDispatchUnroll + u < kWordsPerLane && i < kHiddenInt4)
            words[u] = ptx::ld_nc_no_allocate(source + i);
    }
}

// One warp per token; lane d computes the row for rank d, then all lanes copy 16-byte words to every selected rank.
template <int kHiddenInt4>
__global__ void __launch_bounds__(kDispatchWarps * kWarpSize) intranode_dispatch(DispatchParams p) {
    __shared__ long long rows[kDispatchWarps][kMaxRanks];
    __shared__ DispatchPeer peers[kMaxRanks];
    const int lane = lane_id(), warp = warp_id();
    constexpr int kWordsPerLane = ceil_div(kHiddenInt4, kWarpSize);
    constexpr int kDispatchRounds = ceil_div(kWordsPerLane, kDispatchUnroll);
    PhaseTimer timer;
    bool ok = entry_barrier(p.headers, p.rank, p.num_ranks, p.epoch, p.mailbox, p.timeout_ns, p.diagnostics);
    if (ok) {
        read_mailboxes<DispatchPeer, 5>(p.headers, p.peer_deltas, p.num_ranks, peers);
        ok = !row_shapes_differ(peers, p.rank, p.num_ranks, p.diagnostics);
    }
    timer.mark(kPhaseBarrier);

    // After a failure the block copies nothing but still arrives at the exit barrier.
    const int first_token = ok ? static_cast<int>(blockIdx.x) * kDispatchWarps + warp : p.num_tokens;
    for (int t = first_token; t < p.num_tokens; t += gridDim.x * kDispatchWarps) {
        // Everything the token's copy reads is requested before its rows are known, so the routing's round trips and
        // the data's overlap: the first words of the row, its top-k entry (one per lane: K <= 32) and the first
        // kScaleSlots scales per lane.
        const int4* source = p.x + static_cast<long long>(t) * kHiddenInt4;
        int4 words[2][kDispatchUnroll];
        load_words<kHiddenInt4>(words[0], source, 0);
        long long expert = -1;
        float weight = 0.0f;
        if (lane < p.num_topk) {
            expert = p.topk_idx[static_cast<long long>(t) * p.num_topk + lane];
            weight = p.topk_weights[static_cast<long long>(t) * p.num_topk + lane];
        }
        float scales[kScaleSlots];
        #pragma unroll
        for (int j = 0; j < kScaleSlots; ++j) {
            const int s = j * kWarpSize + lane;
            scales[j] = s < p.num_scales ? p.x_scales[t * p.scale_token_stride + s * p.scale_group_stride] : 0.0f;
        }

        long long row = -1;
        if (lane < p.num_ranks) {
            row = destination_row(p.is_token_in_rank, p.send_head, p.channel_prefix_matrix, p.rank_prefix_matrix, t,
                                  lane, p.rank, p.num_ranks, p.num_tokens, p.num_channels);
            if (row >= peers[lane].capacity) {
                // Only a too small num_worst_tokens gets here; nothing is written out of bounds.
                report_failure(p.diagnostics, Deadline::start(0), p.rank, lane, t, kWaitRecvCapacity,
                               peers[lane].capacity, row);
                row = -1;
            }
        }
        rows[warp][lane] = row;
        const unsigned targets = __ballot_sync(0xffffffffu, row >= 0);
        __syncwarp();
        if (targets == 0)
            continue;

        // Two rounds of words in registers: the next round's loads are in flight while this round is stored.
        #pragma unroll
        for (int round = 0; round < kDispatchRounds; ++round) {
            if (round + 1 < kDispatchRounds)
                load_words<kHiddenInt4>(words[(round + 1) % 2], source, round + 1);
            for (unsigned m = targets; m != 0; m &= m - 1) {
                const int d = __ffs(m) - 1;
                int4* destination = peers[d].recv_x + rows[warp][d] * kHiddenInt4;
                #pragma unroll
                for (int u = 0; u < kDispatchUnroll; ++u) {
                    const int i = (round * kDispatchUnroll + u) * kWarpSize + lane;
                    if (round * kDispatchUnroll + u < kWordsPerLane && i < kHiddenInt4)
                        ptx::st_no_allocate(destination + i, words[round % 2][u]);
                }
            }
        }

        const auto store_scale = [&](int s, float scale) {
            for (unsigned m = targets; m != 0; m &= m - 1) {
                const int d = __ffs(m) - 1;
                peers[d].recv_x_scales[rows[warp][d] * p.num_scales + s] = scale;
            }
        };
        #pragma unroll
        for (int j = 0; j < kScaleSlots; ++j) {
            if (j * kWarpSize + lane < p.num_scales)
                store_scale(j * kWarpSize + lane, scales[j]);
        }
        for (int s = kScaleSlots * kWarpSize + lane; s < p.num_scales; s += kWarpSize)
            store_scale(s, p.x_scales[t * p.scale_token_stride + s * p.scale_group_stride]);
        if (lane == 0) {
            for (unsigned m = targets; m != 0; m &= m - 1) {
                const int d = __ffs(m) - 1;
                peers[d].recv_src_idx[rows[warp][d]] = t;
            }
        }
        if (lane < p.num_topk) {
            for (unsigned m = targets; m != 0; m &= m - 1) {
                const int d = __ffs(m) - 1;
                const long long first = static_cast<long long>(d) * p.experts_per_rank;
                const bool local = expert >= first && expert < first + p.experts_per_rank;
                const long long out = rows[warp][d] * p.num_topk + lane;
                peers[d].recv_topk_idx[out] = local ? expert - first : -1;
                peers[d].recv_topk_weights[out] = local ? weight : 0.0f;
            }
        }
        __syncwarp();
    }
    timer.mark(kPhaseCopy);
    exit_barrier(p.headers, p.rank, p.num_ranks, p.epoch + 1, p.timeout_ns, p.diagnostics);
    timer.mark(kPhaseBarrier);
}

struct MarkPaddingParams {
    long long* recv_topk_idx;        // [num_worst_tokens, K]
    const int* recv_count;           // device M from notify_dispatch
    int num_rows;
    int num_topk;
};
DEEPEP_CHECK_PARAMS_SIZE(MarkPaddingParams, DEEPEP_MARK_PADDING_PARAMS_SIZE);

// With num_worst_tokens, rows past the real count are padding: their top-k indices become -1 (spec §2.6).
__global__ void mark_padding_rows(MarkPaddingParams p) {
    const long long first = static_cast<long long>(*p.recv_count) * p.num_topk;
    const long long end = static_cast<long long>(p.num_rows) * p.num_topk;
    for (long long i = first + blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < end;
         i += static_cast<long long>(gridDim.x) * blockDim.x)
        p.recv_topk_idx[i] = -1;
}

}  // namespace deep_ep
