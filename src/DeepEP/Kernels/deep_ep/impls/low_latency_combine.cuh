#pragma once

#include <cuda_bf16.h>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/low_latency_buffer.cuh>
#include <deep_ep/common/phase_trace.cuh>
#include <deep_ep/common/logfmt_row.cuh>

// Low-latency combine (spec 5.4) over NVLink, in two kernels: send, then receive (now, or later from the hook).
//
// Send: every valid packed row goes back to its source rank, into the slot (global expert, source token) of that
// rank's receive area, viewed as [E][N][kHidden] BF16. Receive: each token reduces its top-k slots in order,
// acc = fma(value, weight, acc) in float32, skipping -1 slots and masked owners, and rounds to BF16 once: the
// host reference's arithmetic, so results are bit-identical to it.
//
// With kLogfmt (spec 5.5) a slot is [logfmt_max_bytes(kHidden)] bytes: the sending warp encodes the row straight into
// it as a LogFMT-10 message, and the receive decodes each message (logfmt_row.cuh) before the same reduction.

namespace deep_ep {

// C# twin: DeepEP.Runtimes.LowLatencyCombineParams.
struct LowLatencyCombineParams : LowLatencyCall {
    const __nv_bfloat16* x;                   // expert outputs [E_l][R*N][kHidden], strides below
    const int* src_info;                      // [E_l, R*N]
    const long long* layout_range;            // [E_l, R]
    const long long* topk_idx;                // [num_tokens, num_topk]
    const float* topk_weights;                // [num_tokens, num_topk]
    __nv_bfloat16* combined_x;                // [num_tokens, kHidden]
    long long* combine_wait_recv_cost_stats;  // [R] or null
    long long x_expert_stride;                // elements
    long long x_row_stride;                   // elements
};
DEEPEP_CHECK_PARAMS_SIZE(LowLatencyCombineParams, DEEPEP_LOW_LATENCY_COMBINE_PARAMS_SIZE);

constexpr int kCombineLoadBatch = 8;     // top-k slot loads in flight per thread in the reduce
constexpr int kCombineChunkWords = 256;  // 16-byte words of a row one warp sends: 8 loads in flight per lane

// The source rank of packed row `row` of a local expert: the last source whose range begins at or before it (empty
// ranges begin where the next one does). Lane s reads source s's range.
__device__ __forceinline__ int combine_row_source(const LowLatencyCombineParams& p, int local_expert, int row) {
    static_assert(kMaxRanks <= kWarpSize, "one lane per source");
    const int lane = lane_id();
    const bool begins_before = lane < p.num_ranks &&
        static_cast<int>(p.layout_range[static_cast<long long>(local_expert) * p.num_ranks + lane] >> 32) <= row;
    return kWarpSize - 1 - __clz(__ballot_sync(0xffffffffu, begins_before));
}

// BF16 rows: every (local expert, row, chunk) of this rank is one warp's item, spread over the whole grid, so each
// warp has about one item and its loads are all in flight at once. Experts go in tiles of one per thread: each block
// reads their row counts and scans them into the items before each expert, and a warp finds its item's expert by
// binary search.
template <int kHidden>
__device__ __forceinline__ void combine_send_chunks(const LowLatencyCombineParams& p, bool rows_aligned) {
    constexpr int kWords = kHidden * 2 / 16;
    constexpr int kChunks = (kWords + kCombineChunkWords - 1) / kCombineChunkWords;
    constexpr int kPerLane = kCombineChunkWords / kWarpSize;
    __shared__ int s_first_item[kLowLatencyThreads];
    __shared__ int s_warp_sums[kLowLatencyWarps];
    const int num_local_experts = p.num_experts / p.num_ranks;
    const int num_rows = p.num_ranks * p.num_max_tokens;
    const long long num_warps = static_cast<long long>(gridDim.x) * kLowLatencyWarps;
    const long long first_warp = static_cast<long long>(blockIdx.x) * kLowLatencyWarps + warp_id();
    // Read once, as the dispatch send does (a rank masked during this send, by a receive's timeout, is skipped next call),
    // and gathered per item after its loads are out.
    const int mask_word = rank_mask_word(p.control, p.num_ranks);

    for (int tile = 0; tile < num_local_experts; tile += kLowLatencyThreads) {
        const int tile_experts = min(kLowLatencyThreads, num_local_experts - tile);
        int items = 0;
        if (static_cast<int>(threadIdx.x) < tile_experts) {
            // Ranges are contiguous in source order: the last one ends where the expert's rows end.
            const long long last = p.layout_range[static_cast<long long>(tile + threadIdx.x) * p.num_ranks + p.num_ranks - 1];
            items = min(static_cast<int>(last >> 32) + static_cast<int>(last & 0xffffffff), num_rows) * kChunks;
        }
        int num_items;
        s_first_item[threadIdx.x] = block_exclusive_scan(items, s_warp_sums, num_items);
        __syncthreads();

        for (long long item = first_warp; item < num_items; item += num_warps) {
            int lo = 0, hi = tile_experts - 1;
            while (lo < hi) {
                const int mid = (lo + hi + 1) / 2;
                if (s_first_item[mid] <= item)
                    lo = mid;
                else
                    hi = mid - 1;
            }
            const int local_expert = tile + lo;
            const int within = static_cast<int>(item) - s_first_item[lo];
            const int row = within / kChunks, chunk = within % kChunks;
            const __nv_bfloat16* from = p.x + local_expert * p.x_expert_stride + row * p.x_row_stride;
            const int first = chunk * kCombineChunkWords;
            // The row's loads go out before its source rank and token are looked up, so the round trips overlap.
            int4 words[kPerLane];
            if (rows_aligned) {
                #pragma unroll
                for (int j = 0; j < kPerLane; ++j) {
                    const int i = first + j * kWarpSize + lane_id();
                    if (i < kWords)
                        words[j] = ptx::ld_nc_no_allocate(reinterpret_cast<const int4*>(from) + i);
                }
            }
            // The row's token and its source's range go out with them: nothing here waits on anything else.
            const int token = p.src_info[static_cast<long long>(local_expert) * num_rows + row];
            const int source = combine_row_source(p, local_expert, row);
            if (masked_ranks(mask_word) >> source & 1u)
                continue;
            const long long global_expert = static_cast<long long>(p.rank) * num_local_experts + local_expert;
            unsigned char* to = p.buffers[source] + p.recv_offset + (global_expert * p.num_max_tokens + token) * kHidden * 2LL;
            if (rows_aligned) {
                #pragma unroll
                for (int j = 0; j < kPerLane; ++j) {
                    const int i = first + j * kWarpSize + lane_id();
                    if (i < kWords)
                        reinterpret_cast<int4*>(to)[i] = words[j];
                }
            } else {
                // Zero-copy rows are H + 2S elements apart: 16-byte aligned only when S is a multiple of 4.
                const int end = min(first + kCombineChunkWords, kWords) * 4;
                for (int i = first * 4 + lane_id(); i < end; i += kWarpSize)
                    reinterpret_cast<int*>(to)[i] = reinterpret_cast<const int*>(from)[i];
            }
        }
        __syncthreads();  // s_first_item is rewritten for the next tile
    }
}

// LogFMT-10: one block per local expert (looping when the grid is smaller), one warp per row, which it encodes into
// the destination's slot, its meta and layout in the warp's scratch.
template <int kHidden>
__device__ __forceinline__ void combine_send_logfmt(const LowLatencyCombineParams& p) {
    static_assert(kHidden % 512 == 0, "LogFMT-10 rows are whole stages");
    __shared__ LogFmtRowScratch<kHidden / kLogFmtGroupChannels> s_rows[kLowLatencyWarps];
    const int num_local_experts = p.num_experts / p.num_ranks;
    const int num_rows = p.num_ranks * p.num_max_tokens;
    const unsigned int masked = masked_ranks(p.control, p.num_ranks);
    for (int local_expert = blockIdx.x; local_expert < num_local_experts; local_expert += gridDim.x) {
        const long long last = p.layout_range[static_cast<long long>(local_expert) * p.num_ranks + p.num_ranks - 1];
        const int end = min(static_cast<int>(last >> 32) + static_cast<int>(last & 0xffffffff), num_rows);
        const long long global_expert = static_cast<long long>(p.rank) * num_local_experts + local_expert;
        for (int row = warp_id(); row < end; row += kLowLatencyWarps) {
            const int token = p.src_info[static_cast<long long>(local_expert) * num_rows + row];
            const int source = combine_row_source(p, local_expert, row);
            if (masked >> source & 1u)
                continue;
            const __nv_bfloat16* from = p.x + local_expert * p.x_expert_stride + row * p.x_row_stride;
            unsigned char* to = p.buffers[source] + p.recv_offset + (global_expert * p.num_max_tokens + token) * logfmt_max_bytes(kHidden);
            logfmt_encode_row(LogFmtWarpTeam(), reinterpret_cast<const unsigned short*>(from), kHidden, to, s_rows[warp_id()]);
        }
    }
}

template <int kHidden, bool kLogfmt>
__device__ __forceinline__ int combine_send_phase(const LowLatencyCombineParams& p, PhaseTimer& timer) {
    const int epoch = next_epoch(p.control, p.set);
    if constexpr (kLogfmt) {
        combine_send_logfmt<kHidden>(p);
    } else {
        const bool rows_aligned = (reinterpret_cast<unsigned long long>(p.x) | (p.x_expert_stride * 2) | (p.x_row_stride * 2)) % 16 == 0;
        combine_send_chunks<kHidden>(p, rows_aligned);
    }
    timer.mark(kPhaseSend);
    signal_when_all_blocks_done(p.buffers, p.signal_offset, p.control, p.set, p.rank, p.num_ranks, epoch);
    timer.mark(kPhaseArrive);
    return epoch;
}

// A block per token (looping when the grid is smaller; with a larger grid a token's blocks split its BF16 words), each
// thread 8 channels at a time (LogFMT-10: 16, one unit, and whole rows per block: a message decodes as one).
template <int kHidden, bool kLogfmt>
__device__ __forceinline__ void combine_recv_phase(const LowLatencyCombineParams& p, int epoch, PhaseTimer& timer) {
    constexpr int kWords = kHidden * 2 / 16;
    constexpr long long kSlotUnits = kLogfmt ? logfmt_max_bytes(kHidden) : kHidden;  // LogFMT-10: bytes; BF16: elements
    __shared__ long long s_slot[kMaxTopk];  // offset of the slot in the receive area (kSlotUnits), or -1
    __shared__ float s_weight[kMaxTopk];
    __shared__ bool s_arrived[kMaxRanks];
    const int num_local_experts = p.num_experts / p.num_ranks;
    const unsigned char* own = p.buffers[p.rank];

    if (!wait_for_sources(own, p.signal_offset, p.control, p.set, epoch, p.rank, p.num_ranks, p.shrink != 0, p.timeout_ns,
                          p.diagnostics, kWaitLowLatencyCombine, p.combine_wait_recv_cost_stats, s_arrived))
        return;
    // The mask as the wait left it (a timed-out source is masked there), read once instead of once per top-k slot.
    __shared__ unsigned int s_masked;
    if (warp_id() == 0) {
        const unsigned int masked = masked_ranks(p.control, p.num_ranks);
        if (lane_id() == 0)
            s_masked = masked;
    }
    __syncthreads();
    timer.mark(kPhaseWait);

    const __nv_bfloat16* slots = reinterpret_cast<const __nv_bfloat16*>(own + p.recv_offset);
    const BlockShare split = kLogfmt ? BlockShare{static_cast<int>(blockIdx.x), static_cast<int>(gridDim.x), 0, 1} : share_units(p.num_tokens);
    for (int t = split.first_unit; t < p.num_tokens; t += split.stride) {
        if (threadIdx.x < p.num_topk) {
            const long long expert = p.topk_idx[static_cast<long long>(t) * p.num_topk + threadIdx.x];
            const bool valid = expert >= 0 && expert < p.num_experts && !(s_masked >> static_cast<int>(expert / num_local_experts) & 1u);
            s_slot[threadIdx.x] = valid ? (expert * p.num_max_tokens + t) * kSlotUnits : -1;
            s_weight[threadIdx.x] = p.topk_weights[static_cast<long long>(t) * p.num_topk + threadIdx.x];
        }
        __syncthreads();
        if constexpr (kLogfmt) {
            // Ends synchronised, so s_slot and s_weight may be rewritten.
            logfmt_reduce_token<kHidden / kLogFmtGroupChannels>(own + p.recv_offset, s_slot, s_weight, p.num_topk, kHidden,
                                                                 p.combined_x + static_cast<long long>(t) * kHidden);
            continue;
        }
        for (int i = split.part * blockDim.x + threadIdx.x; i < kWords; i += blockDim.x * split.parts) {
            float acc[8] = {};
            for (int k0 = 0; k0 < p.num_topk; k0 += kCombineLoadBatch) {
                // Issue a batch of slot loads before using any, so they are in flight together; add in top-k order.
                int4 raw[kCombineLoadBatch];
                #pragma unroll
                for (int b = 0; b < kCombineLoadBatch; ++b) {
                    const int k = k0 + b;
                    if (k < p.num_topk && s_slot[k] >= 0)
                        raw[b] = reinterpret_cast<const int4*>(slots + s_slot[k])[i];
                }
                #pragma unroll
                for (int b = 0; b < kCombineLoadBatch; ++b) {
                    const int k = k0 + b;
                    if (k >= p.num_topk || s_slot[k] < 0)
                        continue;
                    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw[b]);
                    const float weight = s_weight[k];
                    #pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        const float2 v = __bfloat1622float2(pairs[j]);
                        acc[2 * j] = __fmaf_rn(v.x, weight, acc[2 * j]);
                        acc[2 * j + 1] = __fmaf_rn(v.y, weight, acc[2 * j + 1]);
                    }
                }
            }
            int4 out;
            __nv_bfloat162* packed = reinterpret_cast<__nv_bfloat162*>(&out);
            #pragma unroll
            for (int j = 0; j < 4; ++j)
                packed[j] = __floats2bfloat162_rn(acc[2 * j], acc[2 * j + 1]);
            reinterpret_cast<int4*>(p.combined_x + static_cast<long long>(t) * kHidden)[i] = out;
        }
        __syncthreads();  // s_slot and s_weight are rewritten for the next token
    }
    timer.mark(kPhaseReduce);
}

// The send phase alone (with a receive hook).
template <int kHidden, bool kLogfmt>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_combine_send(const LowLatencyCombineParams p) {
    PhaseTimer timer;
    combine_send_phase<kHidden, kLogfmt>(p, timer);
}

// The receive phase alone (the hook).
template <int kHidden, bool kLogfmt>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_combine_recv(const LowLatencyCombineParams p) {
    PhaseTimer timer;
    combine_recv_phase<kHidden, kLogfmt>(p, published_epoch(p.control, p.set), timer);
}

// Both phases in one cooperative launch, as for dispatch.
template <int kHidden, bool kLogfmt>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_combine(const LowLatencyCombineParams p) {
    PhaseTimer timer;
    const int epoch = combine_send_phase<kHidden, kLogfmt>(p, timer);
    combine_recv_phase<kHidden, kLogfmt>(p, epoch, timer);
}

}  // namespace deep_ep
