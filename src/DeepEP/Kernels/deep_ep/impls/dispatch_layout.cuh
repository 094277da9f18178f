#pragma once

#include <deep_ep/common/utils.cuh>

// GetDispatchLayout (spec §1): per-rank and per-expert token counts and the [T, R] membership matrix.

namespace deep_ep {

struct DispatchLayoutParams {
    const long long* topk_idx;       // [T, K]; entries outside [0, E) are masked slots
    int* num_tokens_per_rank;        // [R], zeroed before the launch
    int* num_tokens_per_expert;      // [E], zeroed before the launch
    bool* is_token_in_rank;          // [T, R]
    int num_tokens;
    int num_topk;
    int num_experts;
    int num_ranks;
};
DEEPEP_CHECK_PARAMS_SIZE(DispatchLayoutParams, DEEPEP_DISPATCH_LAYOUT_PARAMS_SIZE);

// One thread per token. Counts are integer atomics, so the result does not depend on the schedule.
__global__ void get_dispatch_layout(DispatchLayoutParams p) {
    const int experts_per_rank = p.num_experts / p.num_ranks;
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < p.num_tokens; t += gridDim.x * blockDim.x) {
        bool* in_rank = p.is_token_in_rank + static_cast<long long>(t) * p.num_ranks;
        for (int d = 0; d < p.num_ranks; ++d)
            in_rank[d] = false;
        const long long* row = p.topk_idx + static_cast<long long>(t) * p.num_topk;
        for (int k = 0; k < p.num_topk; ++k) {
            const long long e = row[k];
            if (e < 0 || e >= p.num_experts)
                continue;
            atomicAdd(p.num_tokens_per_expert + e, 1);
            const int d = static_cast<int>(e / experts_per_rank);
            // A token counts once per rank, however many of that rank's experts it selected.
            if (!in_rank[d]) {
                in_rank[d] = true;
                atomicAdd(p.num_tokens_per_rank + d, 1);
            }
        }
    }
}

}  // namespace deep_ep
