#pragma once

#include <deep_ep/common/timeout.cuh>
#include <deep_ep/common/utils.cuh>
#include <deep_ep/common/comm_header.cuh>

// The low-latency buffer protocol shared by dispatch and combine (spec 5.2, with our own layout inside each set).
//
// Every rank holds the same symmetric allocation; each of its two sets has R signal ints (one per source rank) and
// a receive area. A send kernel writes its data into the destinations' receive areas, then its last block to finish
// stores the set's next epoch into every destination's signal slot for this rank; a receive kernel waits until each
// source's slot reaches that epoch. Epochs live in device memory (LowLatencyControl) and grow by one per use of a
// set, the same on every rank because every rank issues the same low-latency calls, so nothing needs zeroing between
// calls and a captured CUDA graph replays correctly (the epoch is read on the GPU, never baked into the launch).

namespace deep_ep {

constexpr int kLowLatencyNumSets = 2;
constexpr int kLowLatencyThreads = 512;
constexpr int kLowLatencyWarps = kLowLatencyThreads / kWarpSize;
constexpr int kLowLatencyBlocksPerSm = 2;  // per-expert kernels: E_l blocks resident at once for E_l up to 2 x SMs
DEEPEP_CHECK_CONSTANT(kLowLatencyThreads, DEEPEP_LOW_LATENCY_THREADS);
DEEPEP_CHECK_CONSTANT(kLowLatencyBlocksPerSm, DEEPEP_LOW_LATENCY_BLOCKS_PER_SM);

// Local to each rank; peers never address it. Zeroed at creation.
struct LowLatencyControl {
    int epoch[kLowLatencyNumSets];        // the epoch of each set's last send
    int blocks_done[kLowLatencyNumSets];  // send blocks finished in the running send kernel; its last block resets it
    int mask[kMaxRanks];                  // 1 = the rank is masked: neither sent to nor waited for (shrink mode)
};
DEEPEP_CHECK_PARAMS_SIZE(LowLatencyControl, DEEPEP_LOW_LATENCY_CONTROL_SIZE);

// What every low-latency kernel is told about the call: the base of LowLatencyDispatchParams and
// LowLatencyCombineParams. C# twin: DeepEP.Runtimes.LowLatencyCall, filled once for both by the kernels backend.
struct LowLatencyCall {
    unsigned char* buffers[kMaxRanks];         // every rank's low-latency allocation, as mapped on this device
    LowLatencyControl* control;
    KernelDiagnostics* diagnostics;
    long long signal_offset;                   // this set's signal ints
    long long recv_offset;                     // this set's receive area
    unsigned long long timeout_ns;
    int num_tokens;
    int num_max_tokens;                        // N
    int num_topk;
    int num_experts;
    int rank;
    int num_ranks;
    int set;
    int shrink;                                // 1 = time-outs mask the source instead of failing
};
DEEPEP_CHECK_PARAMS_SIZE(LowLatencyCall, DEEPEP_LOW_LATENCY_CALL_SIZE);

// Each set's signal area: kMaxRanks int signals (one per source), then kMaxRanks 64-bit shape stamps at this offset.
// C# twin: LowLatencyLayout.SignalBytes.
constexpr int kShapeStampsOffset = 128;  // kMaxRanks * 4
DEEPEP_CHECK_CONSTANT(kShapeStampsOffset, DEEPEP_LOW_LATENCY_SHAPE_STAMPS_OFFSET);

__device__ __forceinline__ long long* shape_stamp_slot(unsigned char* buffer, long long signal_offset, int source) {
    return reinterpret_cast<long long*>(buffer + signal_offset + kShapeStampsOffset) + source;
}

__device__ __forceinline__ bool is_masked(const LowLatencyControl* control, int rank) {
    return ptx::ld_volatile(&control->mask[rank]) != 0;
}

// This lane's word of the rank mask (lane r: rank r; 0 past the ranks). A warp gathers the words with masked_ranks
// where it needs them: a ballot waits for its operand, so loading early and gathering late keeps the round trip off
// the path to the loads in between.
__device__ __forceinline__ int rank_mask_word(const LowLatencyControl* control, int num_ranks) {
    return lane_id() < num_ranks ? ptx::ld_volatile(&control->mask[lane_id()]) : 0;
}

// Called by a whole warp: bit r is set when rank r is masked.
__device__ __forceinline__ unsigned int masked_ranks(int mask_word) {
    return __ballot_sync(0xffffffffu, mask_word != 0);
}

__device__ __forceinline__ unsigned int masked_ranks(const LowLatencyControl* control, int num_ranks) {
    return masked_ranks(rank_mask_word(control, num_ranks));
}

// The epoch a send on `set` publishes. Every block reads it at the start of its send phase, before it arrives below,
// so no block can see the last block's update: in a fused send+receive launch the receive then waits for this value.
__device__ __forceinline__ int next_epoch(const LowLatencyControl* control, int set) {
    return ptx::ld_volatile(&control->epoch[set]) + 1;
}

// The epoch the last send on `set` published, for a receive launched after it (the hook).
__device__ __forceinline__ int published_epoch(const LowLatencyControl* control, int set) {
    return ptx::ld_volatile(&control->epoch[set]);
}

// Called by every thread of every block of a send phase after its last data store. The last block to finish
// records `epoch` as the set's epoch and publishes it into each unmasked destination's signal slot for `rank`.
__device__ __forceinline__ void signal_when_all_blocks_done(unsigned char* const* buffers, long long signal_offset,
                                                            LowLatencyControl* control, int set, int rank,
                                                            int num_ranks, int epoch) {
    __shared__ int s_is_last;
    __syncthreads();
    if (threadIdx.x == 0) {
        // NOTES: after the block barrier, a GPU-scope release arrival orders the whole block's stores (to peers
        // too) before it (cumulativity through bar.sync); the last block's system-scope fence and release stores
        // below then carry them to the peers. Only one system-scope fence per send, not one per block.
        s_is_last = ptx::atomic_add_release_gpu(&control->blocks_done[set], 1) == static_cast<int>(gridDim.x) - 1;
    }
    __syncthreads();
    if (!s_is_last)
        return;
    // NOTES: acquires the other blocks' arrivals at system scope, so the release stores below cover their stores.
    ptx::fence_acq_rel_sys();
    if (threadIdx.x < num_ranks && !is_masked(control, threadIdx.x)) {
        int* slot = reinterpret_cast<int*>(buffers[threadIdx.x] + signal_offset) + rank;
        ptx::st_release_sys(slot, epoch);
    }
    if (threadIdx.x == 0) {
        control->epoch[set] = epoch;
        control->blocks_done[set] = 0;
    }
    __syncthreads();
}

// Run by one thread per source rank. Waits until `source` has signalled `epoch` on this set; returns whether
// its data is there. A masked source is not waited for. On the deadline a shrink-mode buffer masks the source (it is
// then treated as sending nothing, and the host can query the mask); otherwise the timeout is recorded for the host.
// `waited_cycles` gets the clock64 cycles spent waiting.
__device__ __forceinline__ bool wait_for_source(const unsigned char* own_buffer, long long signal_offset,
                                                LowLatencyControl* control, int set, int epoch, int source,
                                                int rank, bool shrink, unsigned long long timeout_ns,
                                                KernelDiagnostics* diagnostics, int what, long long& waited_cycles) {
    waited_cycles = 0;
    if (is_masked(control, source))
        return false;
    const int* slot = reinterpret_cast<const int*>(own_buffer + signal_offset) + source;
    const long long start = clock64();
    const Deadline deadline = Deadline::start(timeout_ns);
    int seen;
    for (unsigned int spins = 0; (seen = ptx::ld_acquire_sys(slot)) < epoch; spins++) {
        if (!shrink && failed_earlier(diagnostics, spins)) {
            waited_cycles = clock64() - start;
            return false;
        }
        if (deadline.expired()) {
            waited_cycles = clock64() - start;
            if (shrink) {
                atomicExch(&control->mask[source], 1);
            } else {
                report_failure(diagnostics, deadline, rank, source, set, what, epoch, seen);
            }
            return false;
        }
    }
    waited_cycles = clock64() - start;
    return true;
}

// Called by every thread: threads [0, num_ranks) wait for one source each and record in s_arrived whether its data
// is there; block 0 adds the cycles waited per source to `wait_stats` (DeepEP's wait-cost statistics). Returns false
// on every thread when a source timed out without masking (recorded for the host): the receive must stop.
__device__ __forceinline__ bool wait_for_sources(const unsigned char* own_buffer, long long signal_offset,
                                                 LowLatencyControl* control, int set, int epoch, int rank,
                                                 int num_ranks, bool shrink, unsigned long long timeout_ns,
                                                 KernelDiagnostics* diagnostics, int what, long long* wait_stats,
                                                 bool* s_arrived) {
    bool failed = false;
    if (threadIdx.x < num_ranks) {
        const int source = threadIdx.x;
        long long waited;
        const bool arrived = wait_for_source(own_buffer, signal_offset, control, set, epoch, source, rank, shrink,
                                             timeout_ns, diagnostics, what, waited);
        failed = !arrived && !shrink && !is_masked(control, source);
        s_arrived[source] = arrived;
        if (blockIdx.x == 0 && wait_stats != nullptr)
            atomicAdd(reinterpret_cast<unsigned long long*>(wait_stats + source), static_cast<unsigned long long>(waited));
    }
    return !__syncthreads_or(failed);
}

// How a grid shares out `count` units of work (local experts, tokens). With at least as many units as blocks, block b
// takes units b, b + gridDim.x, ... alone (part 0 of 1). With fewer, unit u gets blocks [first(u), first(u + 1)),
// first(u) = ceil(u * gridDim.x / count), which split its work: each is `part` of `parts`. No block idles, no unit is
// left out. C# twin of the rule: none (the host only sizes the grid).
struct BlockShare {
    int first_unit;  // this block's first unit
    int stride;      // the next unit it takes is first_unit + stride (count when it has only one)
    int part;        // which of its unit's `parts` blocks this one is
    int parts;
};

__device__ __forceinline__ BlockShare share_units(int count) {
    const long long grid = gridDim.x, block = blockIdx.x;
    if (count >= grid || count <= 0)
        return {static_cast<int>(block), static_cast<int>(grid), 0, 1};
    const long long unit = block * count / grid;
    const long long first = (unit * grid + count - 1) / count, next = ((unit + 1) * grid + count - 1) / count;
    return {static_cast<int>(unit), count, static_cast<int>(block - first), static_cast<int>(next - first)};
}

// Exclusive prefix sum over the block (threads in order); `total` gets the block's sum. Uses kLowLatencyWarps ints
// of shared memory; all threads must call it.
__device__ __forceinline__ int block_exclusive_scan(int value, int* warp_sums, int& total) {
    const int lane = lane_id(), warp = warp_id();
    const int inclusive = warp_inclusive_sum(value);
    if (lane == kWarpSize - 1)
        warp_sums[warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
        const int sum = warp_inclusive_sum(lane < kLowLatencyWarps ? warp_sums[lane] : 0);
        if (lane < kLowLatencyWarps)
            warp_sums[lane] = sum;  // inclusive over warps
    }
    __syncthreads();
    const int warp_base = warp == 0 ? 0 : warp_sums[warp - 1];
    total = warp_sums[kLowLatencyWarps - 1];
    __syncthreads();  // warp_sums may be reused by the next call
    return warp_base + inclusive - value;
}

}  // namespace deep_ep
