#pragma once

#include <deep_ep/common/barrier.cuh>
#include <deep_ep/common/phase_trace.cuh>

// The count exchange before a non-cached dispatch (spec §2.8, §4.2): every rank writes what it will send into each
// destination's header; each rank then knows the full rank prefix matrix, its receive count M, its per-expert
// receive counts and where every source's channels start. M and the per-expert counts go to host-mapped memory,
// which the host polls (with a deadline) before it allocates the outputs.

namespace deep_ep {

struct NotifyDispatchParams {
    CommHeader* headers[kMaxRanks];
    const int* num_tokens_per_rank;       // [R]
    const int* num_tokens_per_expert;     // [E]
    const int* channel_counts;            // [R, C] from channel_layout
    int* channel_prefix_matrix;           // out [R, C]: inclusive over channels, this rank's tokens per destination
    int* rank_prefix_matrix;              // out [R, R]: inclusive over source ranks, every column
    int* recv_channel_prefix_matrix;      // out [R, C]: exclusive start of channel c inside source s's block
    int* recv_count;                      // out: device copy of M
    int* host_recv_count;                 // host-mapped M, -1 until written; null when the host does not wait
    int* host_expert_counts;              // host-mapped [E_l], aligned, -1 until written; null likewise
    KernelDiagnostics* diagnostics;
    unsigned long long timeout_ns;
    int rank;
    int num_ranks;
    int num_experts;
    int num_channels;
    int expert_alignment;
    int epoch;                            // this call uses epochs epoch and epoch + 1
};
DEEPEP_CHECK_PARAMS_SIZE(NotifyDispatchParams, DEEPEP_NOTIFY_DISPATCH_PARAMS_SIZE);

// One block of at least max(R, E_l) threads (the host launches 1024).
__global__ void notify_dispatch(NotifyDispatchParams p) {
    const int r = p.rank, num_ranks = p.num_ranks, num_channels = p.num_channels;
    const int experts_per_rank = p.num_experts / num_ranks;
    PhaseTimer timer;

    // Peers finished reading their headers for the previous operation once they reach this epoch.
    if (!rank_barrier(p.headers, r, num_ranks, p.epoch, p.timeout_ns, p.diagnostics))
        return;
    timer.mark(kPhaseBarrier);

    // Phase 1: publish this rank's counts into every destination's header.
    for (int i = threadIdx.x; i < num_ranks * num_ranks; i += blockDim.x) {
        const int d = i / num_ranks, j = i % num_ranks;
        p.headers[d]->counts[r][j] = p.num_tokens_per_rank[j];
    }
    for (int i = threadIdx.x; i < num_ranks * experts_per_rank; i += blockDim.x) {
        const int d = i / experts_per_rank, e = i % experts_per_rank;
        p.headers[d]->expert_counts[r][e] = p.num_tokens_per_expert[d * experts_per_rank + e];
    }
    // A warp per destination: its channel counts are all loaded before the first store (a store may alias the next
    // count, so a running-sum loop waited out one round trip per channel), then summed 32 channels a step.
    constexpr int kChannelsPerLane = kMaxChannels / kWarpSize;
    for (int d = warp_id(); d < num_ranks; d += static_cast<int>(blockDim.x) / kWarpSize) {
        int counts[kChannelsPerLane];
        #pragma unroll
        for (int j = 0; j < kChannelsPerLane; ++j) {
            const int c = j * kWarpSize + lane_id();
            counts[j] = c < num_channels ? p.channel_counts[d * num_channels + c] : 0;
        }
        int carry = 0;
        #pragma unroll
        for (int j = 0; j < kChannelsPerLane; ++j) {
            const int c = j * kWarpSize + lane_id();
            const int sum = warp_inclusive_sum(counts[j]) + carry;
            if (c < num_channels) {
                p.channel_prefix_matrix[d * num_channels + c] = sum;
                p.headers[d]->channel_prefix[r][c] = sum;
            }
            carry = __shfl_sync(0xffffffffu, sum, kWarpSize - 1);
        }
    }
    __syncthreads();
    timer.mark(kPhaseSend);
    if (!rank_barrier(p.headers, r, num_ranks, p.epoch + 1, p.timeout_ns, p.diagnostics))
        return;
    timer.mark(kPhaseBarrier);

    // Phase 2: everything this rank receives is now in its own header.
    const CommHeader* mine = p.headers[r];
    __shared__ int s_total;  // M: column r's sum
    for (int j = threadIdx.x; j < num_ranks; j += blockDim.x) {
        // Every source's count is loaded before the first store, as above.
        int counts[kMaxRanks];
        #pragma unroll
        for (int s = 0; s < kMaxRanks; ++s)
            counts[s] = s < num_ranks ? ptx::ld_volatile(&mine->counts[s][j]) : 0;
        int sum = 0;
        #pragma unroll
        for (int s = 0; s < kMaxRanks; ++s) {
            sum += counts[s];
            if (s < num_ranks)
                p.rank_prefix_matrix[s * num_ranks + j] = sum;
        }
        if (j == r)
            s_total = sum;
    }
    for (int i = threadIdx.x; i < num_ranks * num_channels; i += blockDim.x) {
        const int s = i / num_channels, c = i % num_channels;
        p.recv_channel_prefix_matrix[i] = c == 0 ? 0 : ptx::ld_volatile(&mine->channel_prefix[s][c - 1]);
    }
    for (int e = threadIdx.x; p.host_expert_counts != nullptr && e < experts_per_rank; e += blockDim.x) {
        int counts[kMaxRanks];  // all loaded before the first add, as above
        #pragma unroll
        for (int s = 0; s < kMaxRanks; ++s)
            counts[s] = s < num_ranks ? ptx::ld_volatile(&mine->expert_counts[s][e]) : 0;
        int sum = 0;
        #pragma unroll
        for (int s = 0; s < kMaxRanks; ++s)
            sum += counts[s];
        const int aligned = ceil_div(sum, p.expert_alignment) * p.expert_alignment;
        ptx::st_relaxed_sys(&p.host_expert_counts[e], aligned);
    }
    __syncthreads();
    timer.mark(kPhaseReduce);
    if (threadIdx.x == 0) {
        const int total = s_total;
        *p.recv_count = total;
        if (p.host_recv_count != nullptr) {
            // NOTES: release after the per-expert counts: the host reads M first and then trusts the list.
            ptx::fence_acq_rel_sys();
            ptx::st_release_sys(p.host_recv_count, total);
        }
    }
    timer.mark(kPhasePublish);
}

}  // namespace deep_ep
