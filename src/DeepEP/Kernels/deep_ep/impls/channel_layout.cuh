#pragma once

#include <deep_ep/common/row_placement.cuh>

// The channel half of the dispatch handle (spec §2.5, §4.1): for every token and destination its position in the
// (channel, destination) stream (send_head), and each channel's token count per destination.

namespace deep_ep {

struct ChannelLayoutParams {
    const bool* is_token_in_rank;    // [T, R]
    int* send_head;                  // [T, R]: position in the channel's stream to that rank, or -1
    int* channel_counts;             // [R, C]: selected tokens of channel c for rank d (not prefixed)
    int num_tokens;
    int num_ranks;
    int num_channels;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(ChannelLayoutParams, DEEPEP_CHANNEL_LAYOUT_PARAMS_SIZE);

// One block per channel, one warp per destination: a ballot scan keeps token order without shared memory.
__global__ void channel_layout(ChannelLayoutParams p) {
    int start, end;
    channel_range(p.num_tokens, p.num_channels, blockIdx.x, start, end);
    const int lane = lane_id();
    for (int d = warp_id(); d < p.num_ranks; d += blockDim.x / kWarpSize) {
        int count = 0;
        for (int base = start; base < end; base += kWarpSize) {
            const int t = base + lane;
            const bool selected = t < end && p.is_token_in_rank[static_cast<long long>(t) * p.num_ranks + d];
            const unsigned mask = __ballot_sync(0xffffffffu, selected);
            if (t < end)
                p.send_head[static_cast<long long>(t) * p.num_ranks + d] = selected ? count + __popc(mask & ((1u << lane) - 1u)) : -1;
            count += __popc(mask);
        }
        if (lane == 0)
            p.channel_counts[d * p.num_channels + blockIdx.x] = count;
    }
}

}  // namespace deep_ep
