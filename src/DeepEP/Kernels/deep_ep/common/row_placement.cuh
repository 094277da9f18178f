#pragma once

#include <deep_ep/common/utils.cuh>

// Where a token's row goes (spec §2.5): the channel ranges, and the row a token takes at each destination, shared by
// the layout, dispatch and combine kernels.

namespace deep_ep {

// Channel c covers tokens [min(per*c, T), min(per*c + per, T)) with per = ceil(T / C), as upstream's channels do.
__device__ __forceinline__ void channel_range(int num_tokens, int num_channels, int channel, int& start, int& end) {
    const int per = ceil_div(num_tokens, num_channels);
    start = min(per * channel, num_tokens);
    end = min(start + per, num_tokens);
}

// The destination row of token t for rank d, or -1 when t is not sent there.
__device__ __forceinline__ long long destination_row(const bool* is_token_in_rank, const int* send_head,
                                                     const int* channel_prefix, const int* rank_prefix, int t, int d,
                                                     int rank, int num_ranks, int num_tokens, int num_channels) {
    const long long i = static_cast<long long>(t) * num_ranks + d;
    const int channel = t / ceil_div(num_tokens, num_channels);
    // The four loads are independent, so they go out together (one round trip, not the membership's and then the rest).
    const bool selected = is_token_in_rank[i];
    const int head = send_head[i];
    const int rank_offset = rank == 0 ? 0 : rank_prefix[(rank - 1) * num_ranks + d];
    const int channel_offset = channel == 0 ? 0 : channel_prefix[d * num_channels + channel - 1];
    return selected ? static_cast<long long>(rank_offset) + channel_offset + head : -1;
}

}  // namespace deep_ep
