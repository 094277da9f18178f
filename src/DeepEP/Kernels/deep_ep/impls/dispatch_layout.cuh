#pragma once

#include <deep_ep/common/comm_header.cuh>
#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/utils.cuh>

// GetDispatchLayout (spec §1): per-rank and per-expert token counts and the [T, R] membership matrix.

namespace deep_ep {

struct DispatchLayoutParams {
    const long long* topk_idx;       // [T, K]; entries outside [0, E) are masked slots
    int* num_tokens_per_rank;        // [R]; zeroed before a launch of more than one block
    int* num_tokens_per_expert;      // [E]; likewise
    bool* is_token_in_rank;          // [T, R]
    int num_tokens;
    int num_topk;
    int num_experts;
    int num_ranks;
};
DEEPEP_CHECK_PARAMS_SIZE(DispatchLayoutParams, DEEPEP_DISPATCH_LAYOUT_PARAMS_SIZE);

static_assert(kMaxRanks <= 32, "a token's ranks are a 32-bit mask");
constexpr int kLayoutChunk = 8;  // top-k entries a thread loads together: one round trip for K <= 8

// One thread per token: its top-k row is loaded a chunk at a time, the ranks it selects gathered in a register mask
// (a token counts once per rank, however many of that rank's experts it selected), then its membership row written.
// A single block (few tokens: the host launches one with R + E ints of dynamic shared memory) counts in shared memory
// and stores the totals, so nothing needs zeroing first; a larger grid adds into counts the host zeroed. Counts are
// integer atomics either way, so the result does not depend on the schedule.
__global__ void get_dispatch_layout(DispatchLayoutParams p) {
    extern __shared__ int s_counts[];  // one block: [R] per rank, then [E] per expert
    // The host's choice (LaunchLayout): one block with room for the counters. A grid of one block without that room
    // (many experts, few tokens) adds into zeroed counts like a larger grid.
    const bool one_block = gridDim.x == 1 && ptx::dynamic_smem_size() >= (p.num_ranks + p.num_experts) * sizeof(int);
    int* per_rank = one_block ? s_counts : p.num_tokens_per_rank;
    int* per_expert = one_block ? s_counts + p.num_ranks : p.num_tokens_per_expert;
    if (one_block) {
        for (int i = threadIdx.x; i < p.num_ranks + p.num_experts; i += blockDim.x)
            s_counts[i] = 0;
        __syncthreads();
    }
    const int experts_per_rank = p.num_experts / p.num_ranks;
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < p.num_tokens; t += gridDim.x * blockDim.x) {
        const long long* row = p.topk_idx + static_cast<long long>(t) * p.num_topk;
        unsigned int ranks = 0;
        for (int k0 = 0; k0 < p.num_topk; k0 += kLayoutChunk) {
            long long experts[kLayoutChunk];
            #pragma unroll
            for (int j = 0; j < kLayoutChunk; ++j)
                experts[j] = k0 + j < p.num_topk ? row[k0 + j] : -1;
            #pragma unroll
            for (int j = 0; j < kLayoutChunk; ++j) {
                const long long e = experts[j];
                if (e < 0 || e >= p.num_experts)
                    continue;  // a masked slot
                atomicAdd(per_expert + e, 1);
                ranks |= 1u << static_cast<int>(e / experts_per_rank);
            }
        }
        bool* in_rank = p.is_token_in_rank + static_cast<long long>(t) * p.num_ranks;
        for (int d = 0; d < p.num_ranks; ++d) {
            const bool selected = (ranks >> d & 1u) != 0;
            in_rank[d] = selected;
            if (selected)
                atomicAdd(per_rank + d, 1);
        }
    }
    if (one_block) {
        __syncthreads();
        for (int i = threadIdx.x; i < p.num_ranks; i += blockDim.x)
            p.num_tokens_per_rank[i] = s_counts[i];
        for (int i = threadIdx.x; i < p.num_experts; i += blockDim.x)
            p.num_tokens_per_expert[i] = s_counts[p.num_ranks + i];
    }
}

}  // namespace deep_ep
