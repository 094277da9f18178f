#pragma once

#include <deep_ep/common/utils.cuh>

namespace deep_ep {

// What a normal-mode combine writes on its receiving rank and the routing that places it: the reduced rows, their
// top-k weights, the biases added first, and the dispatch's layout. Both combine paths (the intranode pull kernel and
// the NCCL reduce) derive their parameters from it, so it sits first in their memory, as in their C# twins, and both
// backends fill it with one helper (C# twin: Runtimes/CombineTarget).
struct CombineTarget {
    const bool* is_token_in_rank;    // [T, R]
    const int* send_head;            // [T, R]: the token's position in its (channel, destination) stream at dispatch
    const int* channel_prefix_matrix;// [R, C] inclusive, this rank's (from dispatch)
    const int4* bias0;               // [T, row words] BF16, or null
    const int4* bias1;               // [T, row words] BF16, or null
    int4* combined_x;                // [T, row words] BF16
    float* combined_topk_weights;    // [T, K], or null
    int num_tokens;
    int num_ranks;
    int num_channels;
    int num_topk;
};
DEEPEP_CHECK_PARAMS_SIZE(CombineTarget, DEEPEP_COMBINE_TARGET_SIZE);

}  // namespace deep_ep
