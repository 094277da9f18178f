#pragma once

#include <deep_ep/common/utils.cuh>

namespace deep_ep {

// What a normal-mode dispatch reads on its sending rank: the tokens and their routing. Both dispatch paths (the
// intranode copy kernel and the NCCL pack) derive their parameters from it, so it sits first in their memory, as in
// their C# twins, and both backends fill it with one helper (C# twin: Runtimes/DispatchSource).
struct DispatchSource {
    const int4* x;                   // [T, row words]
    const float* x_scales;           // [T, S] 4-byte words (Float32, or UE8M0 Int32 moved as the same 4 bytes) at the strides below, or null
    const long long* topk_idx;       // [T, K], or null
    const float* topk_weights;       // [T, K], or null
    const bool* is_token_in_rank;    // [T, R]
    const int* send_head;            // [T, R]: a selected token's position in its (channel, destination) stream
    const int* channel_prefix_matrix;// [R, C] inclusive, this rank's
    long long scale_token_stride;    // elements
    long long scale_group_stride;    // elements
    int num_tokens;
    int num_scales;
    int num_topk;
    int experts_per_rank;
};
DEEPEP_CHECK_PARAMS_SIZE(DispatchSource, DEEPEP_DISPATCH_SOURCE_SIZE);

}  // namespace deep_ep
