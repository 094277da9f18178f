#pragma once

#include <cuda_bf16.h>
#include <deep_ep/common/fp8.cuh>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/low_latency_buffer.cuh>
#include <deep_ep/common/phase_trace.cuh>

// Low-latency dispatch (spec 5.3) over NVLink, in two kernels: send, then receive (now, or later from the hook).
//
// Send: a token crosses NVLink once per destination RANK, not once per selected expert: the sender casts it (FP8) or
// copies it (BF16) straight into slot t of its area in each destination's receive buffer, next to its routing row.
// Receive: each local expert's block (or blocks, sharing its rows) scans every source's routing rows in (source,
// token, top-k slot) order, so the packed layout is deterministic (the host reference's order), and copies the
// selected rows into the packed outputs. Area of source s in a receive buffer: [int num_tokens, padding to 16][routing: N x K int32, padded to 16]
// [messages: N x message bytes]; a message is the FP8 row then S float32 scale_inv values, or the BF16 row. Each
// source also leaves a shape stamp in the signal area (shape_stamp_slot), where no other shape's rows can land.

namespace deep_ep {

// C# twin: DeepEP.Runtimes.LowLatencyDispatchParams.
struct LowLatencyDispatchParams : LowLatencyCall {
    const __nv_bfloat16* x;                    // [num_tokens, kHidden]
    const long long* topk_idx;                 // [num_tokens, num_topk], -1 = no expert
    void* packed_recv_x;                       // [E_l, R*N, kHidden] E4M3 or BF16
    void* packed_recv_x_scales;                // [E_l][S][R*N] float, or [E_l][S/4][R*N] int32 with UE8M0
    int* packed_recv_count;                    // [E_l]
    int* packed_recv_src_info;                 // [E_l, R*N]
    long long* packed_recv_layout_range;       // [E_l, R]: begin << 32 | count
    int* cumulative_local_expert_recv_stats;   // [E_l] or null
    long long* dispatch_wait_recv_cost_stats;  // [R] or null
    long long source_stride;                   // bytes of one source's area
};
DEEPEP_CHECK_PARAMS_SIZE(LowLatencyDispatchParams, DEEPEP_LOW_LATENCY_DISPATCH_PARAMS_SIZE);

template <int kHidden, bool kUseFp8>
struct LowLatencyMessage {
    static_assert(kHidden % kNumChannelsPerScale == 0, "kHidden must be a multiple of 128");
    static constexpr int kNumScales = kHidden / kNumChannelsPerScale;
    static constexpr int kPayloadBytes = kUseFp8 ? kHidden : kHidden * 2;
    static_assert(kPayloadBytes % 16 == 0, "rows are copied in 16-byte words");
    // Padded to 16 bytes so every message starts on the copy grid: an FP8 row with an odd number of 128-channel
    // groups (H = 1152) ends 4 bytes off it. C# twin: LowLatencyLayout.DispatchSourceBytes.
    static constexpr int kBytes = (kPayloadBytes + (kUseFp8 ? kNumScales * 4 : 0) + 15) / 16 * 16;
};

__device__ __forceinline__ long long routing_bytes(int num_max_tokens, int num_topk) {
    return ceil_div(static_cast<long long>(num_max_tokens) * num_topk * 4, 16LL) * 16;
}

__device__ __forceinline__ unsigned char* source_area(unsigned char* buffer, const LowLatencyDispatchParams& p, int source) {
    return buffer + p.recv_offset + source * p.source_stride;
}

// The epoch (high word) and an FNV-1a digest of everything that places a source's area and rows (low word): a
// receiver that finds another value there knows the source called with another shape, not just late.
template <int kHidden, bool kUseFp8>
__device__ __forceinline__ long long dispatch_stamp(const LowLatencyDispatchParams& p, int epoch) {
    const int fields[] = {kHidden, kUseFp8 ? 1 : 0, p.num_topk, p.num_experts, p.num_max_tokens};
    unsigned int digest = 2166136261u;
    for (int field : fields)
        digest = (digest ^ static_cast<unsigned int>(field)) * 16777619u;
    return (static_cast<long long>(epoch) << 32) | digest;
}

// One warp per (token, 128-channel group) task across the whole grid, so each warp has one or two short tasks and
// their loads overlap: a warp finds the token's destination ranks from its top-k row, casts (or copies) its group
// once and stores it to each destination; the group-0 warp also writes the token's routing row to every rank.
template <int kHidden, bool kUseFp8, bool kRoundScale>
__device__ __forceinline__ int dispatch_send_phase(const LowLatencyDispatchParams& p, PhaseTimer& timer) {
    using Message = LowLatencyMessage<kHidden, kUseFp8>;
    constexpr int kGroups = Message::kNumScales;
    const int epoch = next_epoch(p.control, p.set);
    const int lane = lane_id();
    const int num_local_experts = p.num_experts / p.num_ranks;
    const long long messages_offset = 16 + routing_bytes(p.num_max_tokens, p.num_topk);
    const int mask_word = rank_mask_word(p.control, p.num_ranks);  // gathered after the first task's loads are out

    const long long num_tasks = static_cast<long long>(p.num_tokens) * kGroups;
    const long long num_warps = static_cast<long long>(gridDim.x) * kLowLatencyWarps;
    for (long long task = static_cast<long long>(blockIdx.x) * kLowLatencyWarps + warp_id(); task < num_tasks; task += num_warps) {
        const int t = static_cast<int>(task / kGroups), group = static_cast<int>(task % kGroups);
        // The token's channels and its top-k row load together: neither waits for the other.
        const int channel = group * kNumChannelsPerScale + lane * kFp8ChannelsPerLane;
        const int2 raw = ptx::ld_nc_no_allocate(reinterpret_cast<const int2*>(p.x + static_cast<long long>(t) * kHidden + channel));
        const long long expert = lane < p.num_topk ? p.topk_idx[static_cast<long long>(t) * p.num_topk + lane] : -1;
        const unsigned int masked = masked_ranks(mask_word);
        const bool valid = expert >= 0 && expert < p.num_experts;
        const unsigned int destinations =
            __reduce_or_sync(0xffffffffu, valid ? 1u << static_cast<int>(expert / num_local_experts) : 0u) & ~masked;
        if (group == 0 && lane < p.num_topk) {
            // Every unmasked rank gets the whole row: it picks its own experts from it.
            for (int d = 0; d < p.num_ranks; ++d) {
                if (!(masked >> d & 1u)) {
                    int* routing = reinterpret_cast<int*>(source_area(p.buffers[d], p, p.rank) + 16);
                    routing[static_cast<long long>(t) * p.num_topk + lane] = valid ? static_cast<int>(expert) : -1;
                }
            }
        }
        const long long message = messages_offset + static_cast<long long>(t) * Message::kBytes;
        if constexpr (kUseFp8) {
            const __nv_bfloat16* values = reinterpret_cast<const __nv_bfloat16*>(&raw);
            float v[kFp8ChannelsPerLane];
            #pragma unroll
            for (int i = 0; i < kFp8ChannelsPerLane; ++i)
                v[i] = __bfloat162float(values[i]);
            float scale_inv;
            const unsigned int packed = cast_group_fp8<kRoundScale>(v, scale_inv);
            for (unsigned int rest = destinations; rest != 0; rest &= rest - 1) {
                unsigned char* out = source_area(p.buffers[__ffs(rest) - 1], p, p.rank) + message;
                *reinterpret_cast<unsigned int*>(out + channel) = packed;
                if (lane == 0)
                    reinterpret_cast<float*>(out + kHidden)[group] = scale_inv;
            }
        } else {
            for (unsigned int rest = destinations; rest != 0; rest &= rest - 1)
                *reinterpret_cast<int2*>(source_area(p.buffers[__ffs(rest) - 1], p, p.rank) + message + channel * 2) = raw;
        }
    }
    // The source's token count and shape stamp: read by the receivers only after the signal below, which covers them.
    const unsigned int masked = masked_ranks(mask_word);
    if (blockIdx.x == 0 && threadIdx.x < p.num_ranks && !(masked >> threadIdx.x & 1u)) {
        *reinterpret_cast<int*>(source_area(p.buffers[threadIdx.x], p, p.rank)) = p.num_tokens;
        *shape_stamp_slot(p.buffers[threadIdx.x], p.signal_offset, p.rank) = dispatch_stamp<kHidden, kUseFp8>(p, epoch);
    }
    timer.mark(kPhaseSend);
    signal_when_all_blocks_done(p.buffers, p.signal_offset, p.control, p.set, p.rank, p.num_ranks, epoch);
    timer.mark(kPhaseArrive);
    return epoch;
}

constexpr int kDispatchChunkWords = 128;  // 16-byte words of a received row one warp copies: 4 loads in flight per lane

// A block per local expert (looping when the grid is smaller; with a larger grid an expert's blocks split its rows).
// Dynamic shared memory: R*N ints, the expert's selected (source, token) pairs in packing order.
template <int kHidden, bool kUseFp8, bool kUseUe8m0>
__device__ __forceinline__ void dispatch_recv_phase(const LowLatencyDispatchParams& p, int epoch, PhaseTimer& timer) {
    using Message = LowLatencyMessage<kHidden, kUseFp8>;
    static_assert(!kUseUe8m0 || (kUseFp8 && Message::kNumScales % kNumScalesPerUe8m0Word == 0),
                  "UE8M0 packs 4 FP8 scales per int32: kHidden must be a multiple of 512");
    extern __shared__ int s_selected[];
    __shared__ int s_num_tokens[kMaxRanks];
    __shared__ int s_begin[kMaxRanks + 1];
    __shared__ int s_warp_sums[kLowLatencyWarps];
    __shared__ bool s_arrived[kMaxRanks];

    const int num_local_experts = p.num_experts / p.num_ranks;
    const int num_rows = p.num_ranks * p.num_max_tokens;
    const long long messages_offset = 16 + routing_bytes(p.num_max_tokens, p.num_topk);
    unsigned char* own = p.buffers[p.rank];

    if (!wait_for_sources(own, p.signal_offset, p.control, p.set, epoch, p.rank, p.num_ranks, p.shrink != 0, p.timeout_ns,
                          p.diagnostics, kWaitLowLatencyDispatch, p.dispatch_wait_recv_cost_stats, s_arrived))
        return;
    // A source that called with another shape wrote its rows elsewhere (maybe over other sources' areas): nothing
    // received in this call can be trusted then.
    // The source's token count is read with its stamp (one round trip) and used only once the stamps all match.
    bool mismatched = false;
    if (threadIdx.x < p.num_ranks) {
        int num_tokens = 0;
        if (s_arrived[threadIdx.x]) {
            const long long stamp = dispatch_stamp<kHidden, kUseFp8>(p, epoch), seen = *shape_stamp_slot(own, p.signal_offset, threadIdx.x);
            num_tokens = *reinterpret_cast<const int*>(source_area(own, p, threadIdx.x));
            mismatched = seen != stamp;
            if (mismatched)
                report_failure(p.diagnostics, Deadline::start(0), p.rank, threadIdx.x, -1, kLowLatencyMismatchedShape, stamp, seen);
        }
        s_num_tokens[threadIdx.x] = num_tokens;
    }
    if (__syncthreads_or(mismatched))
        return;
    timer.mark(kPhaseWait);

    // With more blocks than local experts (a few experts per rank), an expert's blocks each select its rows (the same
    // selection: the routing rows are read-only here) and copy their share of them.
    const BlockShare split = share_units(num_local_experts);
    for (int local_expert = split.first_unit; local_expert < num_local_experts; local_expert += split.stride) {
        const int expert = p.rank * num_local_experts + local_expert;

        // Select: (source, token, slot) ascending, each thread one (source, token) pair per round.
        int base = 0;
        for (int first = 0; first < num_rows; first += blockDim.x) {
            const int i = first + threadIdx.x;
            const int source = i / p.num_max_tokens, token = i % p.num_max_tokens;
            int matches = 0;
            if (i < num_rows && token < s_num_tokens[source]) {
                const int* routing = reinterpret_cast<const int*>(source_area(own, p, source) + 16) +
                                     static_cast<long long>(token) * p.num_topk;
                #pragma unroll 8  // the row's loads in flight together: K = 8 is one round trip, not eight
                for (int k = 0; k < p.num_topk; ++k)
                    matches += routing[k] == expert;
            }
            int total;
            int position = base + block_exclusive_scan(matches, s_warp_sums, total);
            if (i < num_rows && token == 0)
                s_begin[source] = position;
            for (int k = 0; k < matches; ++k, ++position) {
                if (position < num_rows)
                    s_selected[position] = (source << 16) | token;
            }
            base += total;
        }
        if (threadIdx.x == 0)
            s_begin[p.num_ranks] = base;
        __syncthreads();
        timer.mark(kPhaseSelect);
        if (base > num_rows) {
            // Repeated experts in a top-k row can select more rows than R*N: report instead of writing past the end.
            if (threadIdx.x == 0 && split.part == 0)
                report_failure(p.diagnostics, Deadline::start(0), p.rank, -1, local_expert, kLowLatencyRecvCapacity,
                               num_rows, base);
            return;
        }
        // The expert's layout, count and statistics, once.
        if (split.part == 0 && threadIdx.x < p.num_ranks) {
            const int begin = s_begin[threadIdx.x], count = s_begin[threadIdx.x + 1] - begin;
            p.packed_recv_layout_range[static_cast<long long>(local_expert) * p.num_ranks + threadIdx.x] =
                (static_cast<long long>(begin) << 32) | static_cast<unsigned int>(count);
        }
        if (split.part == 0 && threadIdx.x == 0) {
            p.packed_recv_count[local_expert] = base;
            if (p.cumulative_local_expert_recv_stats != nullptr)
                p.cumulative_local_expert_recv_stats[local_expert] += base;
        }

        // Copy: one warp per (packed row, chunk), so a row's loads spread over several warps and all are in flight;
        // the chunk-0 warp also writes the row's source token and scales. The expert's blocks take turns by warp.
        constexpr int kWords = Message::kPayloadBytes / 16;
        constexpr int kChunks = (kWords + kDispatchChunkWords - 1) / kDispatchChunkWords;
        constexpr int kPerLane = kDispatchChunkWords / kWarpSize;
        const long long expert_row0 = static_cast<long long>(local_expert) * num_rows;
        for (int item = split.part * kLowLatencyWarps + warp_id(); item < base * kChunks; item += kLowLatencyWarps * split.parts) {
            const int row = item / kChunks, chunk = item % kChunks;
            const int source = s_selected[row] >> 16, token = s_selected[row] & 0xffff;
            const unsigned char* message =
                source_area(own, p, source) + messages_offset + static_cast<long long>(token) * Message::kBytes;
            const int4* from = reinterpret_cast<const int4*>(message);
            int4* to = reinterpret_cast<int4*>(static_cast<unsigned char*>(p.packed_recv_x) +
                                               (expert_row0 + row) * Message::kPayloadBytes);
            int4 words[kPerLane];
            #pragma unroll
            for (int j = 0; j < kPerLane; ++j) {
                const int i = chunk * kDispatchChunkWords + j * kWarpSize + lane_id();
                if (i < kWords)
                    words[j] = from[i];
            }
            #pragma unroll
            for (int j = 0; j < kPerLane; ++j) {
                const int i = chunk * kDispatchChunkWords + j * kWarpSize + lane_id();
                if (i < kWords)
                    ptx::st_no_allocate(to + i, words[j]);
            }
            if (chunk != 0)
                continue;
            if (lane_id() == 0)
                p.packed_recv_src_info[expert_row0 + row] = token;
            if constexpr (kUseFp8) {
                const float* scales = reinterpret_cast<const float*>(message + kHidden);
                if constexpr (kUseUe8m0) {
                    constexpr int kScaleWords = Message::kNumScales / kNumScalesPerUe8m0Word;
                    int* out = static_cast<int*>(p.packed_recv_x_scales) + static_cast<long long>(local_expert) * kScaleWords * num_rows;
                    for (int w = lane_id(); w < kScaleWords; w += kWarpSize) {
                        unsigned int word = 0;
                        #pragma unroll
                        for (int b = 0; b < kNumScalesPerUe8m0Word; ++b)
                            word |= ue8m0_byte(scales[w * kNumScalesPerUe8m0Word + b]) << (8 * b);
                        out[static_cast<long long>(w) * num_rows + row] = static_cast<int>(word);
                    }
                } else {
                    float* out = static_cast<float*>(p.packed_recv_x_scales) +
                                 static_cast<long long>(local_expert) * Message::kNumScales * num_rows;
                    for (int g = lane_id(); g < Message::kNumScales; g += kWarpSize)
                        out[static_cast<long long>(g) * num_rows + row] = scales[g];
                }
            }
        }
        __syncthreads();  // s_selected and s_begin are rewritten for the next expert
        timer.mark(kPhaseCopy);
    }
}

// The send phase alone (with a receive hook).
template <int kHidden, bool kUseFp8, bool kRoundScale>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_dispatch_send(const LowLatencyDispatchParams p) {
    PhaseTimer timer;
    dispatch_send_phase<kHidden, kUseFp8, kRoundScale>(p, timer);
}

// The receive phase alone (the hook).
template <int kHidden, bool kUseFp8, bool kUseUe8m0>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_dispatch_recv(const LowLatencyDispatchParams p) {
    PhaseTimer timer;
    dispatch_recv_phase<kHidden, kUseFp8, kUseUe8m0>(p, published_epoch(p.control, p.set), timer);
}

// Both phases in one launch: a block goes on to receive as soon as its share of the send is done. The receive waits
// for every block's send (through the signals), so the launch is cooperative: all blocks resident, no deadlock.
template <int kHidden, bool kUseFp8, bool kRoundScale, bool kUseUe8m0>
__global__ void __launch_bounds__(kLowLatencyThreads, kLowLatencyBlocksPerSm) low_latency_dispatch(const LowLatencyDispatchParams p) {
    PhaseTimer timer;
    const int epoch = dispatch_send_phase<kHidden, kUseFp8, kRoundScale>(p, timer);
    dispatch_recv_phase<kHidden, kUseFp8, kUseUe8m0>(p, epoch, timer);
}

}  // namespace deep_ep
