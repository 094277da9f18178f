#pragma once

#include <deep_ep/common/bf16.cuh>
#include <deep_ep/common/comm_header.cuh>
#include <deep_ep/common/utils.cuh>

// V2's expanded layout (docs/architecture.md, "V2's expanded layout"): received rows regrouped by local expert, one
// row per (received row, top-k slot naming a local expert), each expert's segment padded to the alignment. Four
// kernels, all deterministic (no atomics decide a position): expansion_count (counts and aligned prefix sums),
// expansion_place (every row's position, in received-row order), expansion_copy (the rows, scales and weights) and,
// for combine, expansion_reduce (each received row's expanded copies summed back). Bit for bit
// DeepEP.Backends.Host.HostExpansion.

namespace deep_ep {

constexpr int kExpansionThreads = 512;
DEEPEP_CHECK_CONSTANT(kExpansionThreads, DEEPEP_EXPANSION_THREADS);

// C# twin: DeepEP.Runtimes.ExpansionParams. Each kernel reads the fields its comment names.
struct ExpansionParams {
    const long long* recv_topk_idx;        // [num_rows, num_topk] local expert ids or -1 (count, place)
    const float* recv_topk_weights;        // [num_rows, num_topk] or null (copy)
    const unsigned char* recv_x;           // [num_rows, row_bytes] (copy)
    const unsigned char* recv_x_scales;    // [num_rows, scale_bytes] or null (copy)
    int* counts;                           // [num_local_experts] (count writes; place reads)
    int* psum;                             // [num_local_experts] aligned inclusive prefix sums (count writes; place reads)
    int* src_row_slot;                     // [capacity, 2] (place writes; copy reads)
    int* expanded_row_of;                  // [num_rows, num_topk] (place writes; reduce reads)
    unsigned char* expanded_x;             // [capacity, row_bytes] (copy)
    unsigned char* expanded_x_scales;      // [capacity, scale_bytes] or null (copy)
    float* expanded_weights;               // [capacity] or null (copy writes; reduce reads as input weights)
    const int4* combine_x;                 // [capacity, hidden] BF16 (reduce)
    int4* reduced_x;                       // [num_rows, hidden] BF16 (reduce)
    float* folded_weights;                 // [num_rows, num_topk] or null (reduce)
    long long row_bytes;                   // a multiple of 16
    long long scale_bytes;                 // a multiple of 4
    int num_rows;
    int num_topk;
    int num_local_experts;
    int alignment;
    int capacity;
    int hidden;                            // a multiple of 8 (reduce)
    int zero_padding;                      // copy: zero the padding rows
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(ExpansionParams, DEEPEP_EXPANSION_PARAMS_SIZE);

__device__ __forceinline__ int align_up_int(int value, int alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

// Exclusive prefix sum over the block (blockDim.x == kExpansionThreads); *total gets the block's sum.
__device__ __forceinline__ int block_exclusive_scan(int value, int* total) {
    __shared__ int warp_sums[kExpansionThreads / kWarpSize];
    const int lane = lane_id(), warp = warp_id();
    const int inclusive = warp_inclusive_sum(value);
    if (lane == kWarpSize - 1)
        warp_sums[warp] = inclusive;
    __syncthreads();
    int warp_offset = 0, sum = 0;
    for (int w = 0; w < kExpansionThreads / kWarpSize; ++w) {
        warp_offset += w < warp ? warp_sums[w] : 0;
        sum += warp_sums[w];
    }
    __syncthreads();  // warp_sums is reused by the next call
    *total = sum;
    return warp_offset + inclusive - value;
}

// One block: per-expert counts (shared-memory atomics only add, so the counts are exact) and their aligned
// inclusive prefix sums.
__global__ void __launch_bounds__(kExpansionThreads) expansion_count(const ExpansionParams p) {
    __shared__ int s_counts[kMaxLocalExperts];
    for (int e = threadIdx.x; e < p.num_local_experts; e += blockDim.x)
        s_counts[e] = 0;
    __syncthreads();
    const long long slots = static_cast<long long>(p.num_rows) * p.num_topk;
    for (long long i = threadIdx.x; i < slots; i += blockDim.x) {
        const long long expert = p.recv_topk_idx[i];
        if (expert >= 0 && expert < p.num_local_experts)
            atomicAdd(&s_counts[expert], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int running = 0;
        for (int e = 0; e < p.num_local_experts; ++e) {
            p.counts[e] = s_counts[e];
            running += align_up_int(s_counts[e], p.alignment);
            p.psum[e] = running;
        }
    }
}

// One block per local expert: scans the received rows in order, a block-wide prefix sum of each thread's matching
// slots gives every (row, slot) its position in the expert's segment. Positions past capacity (only when the
// caller's layout disagrees with its top-k) are dropped, never written. Block 0 also marks the non-local slots, the
// last block the rows after the last segment.
__global__ void __launch_bounds__(kExpansionThreads) expansion_place(const ExpansionParams p) {
    const int expert = blockIdx.x;
    const int start = expert == 0 ? 0 : p.psum[expert - 1];
    const int end = p.psum[expert];
    int running = start;
    for (int base = 0; base < p.num_rows; base += kExpansionThreads) {
        const int row = base + static_cast<int>(threadIdx.x);
        const long long* ids = p.recv_topk_idx + static_cast<long long>(row) * p.num_topk;
        int matches = 0;
        for (int k = 0; row < p.num_rows && k < p.num_topk; ++k)
            matches += ids[k] == expert ? 1 : 0;
        int total;
        int position = running + block_exclusive_scan(matches, &total);
        for (int k = 0; matches > 0 && k < p.num_topk; ++k) {
            if (ids[k] != expert)
                continue;
            const bool fits = position < p.capacity;
            p.expanded_row_of[static_cast<long long>(row) * p.num_topk + k] = fits ? position : -1;
            if (fits) {
                p.src_row_slot[2LL * position] = row;
                p.src_row_slot[2LL * position + 1] = k;
            }
            ++position;
        }
        running += total;
    }
    const int padding_end = min(end, p.capacity);
    for (int position = running + static_cast<int>(threadIdx.x); position < padding_end; position += kExpansionThreads) {
        p.src_row_slot[2LL * position] = -1;
        p.src_row_slot[2LL * position + 1] = -1;
    }
    if (expert == 0) {
        const long long slots = static_cast<long long>(p.num_rows) * p.num_topk;
        for (long long i = threadIdx.x; i < slots; i += kExpansionThreads) {
            const long long id = p.recv_topk_idx[i];
            if (id < 0 || id >= p.num_local_experts)
                p.expanded_row_of[i] = -1;
        }
    }
    if (expert == p.num_local_experts - 1) {
        for (int position = max(end, 0) + static_cast<int>(threadIdx.x); position < p.capacity; position += kExpansionThreads) {
            p.src_row_slot[2LL * position] = -1;
            p.src_row_slot[2LL * position + 1] = -1;
        }
    }
}

// One warp per expanded row: copies its source row's bytes, scales and top-k weight, or zeroes a padding row (when
// asked; its weight is always 0).
__global__ void __launch_bounds__(kExpansionThreads) expansion_copy(const ExpansionParams p) {
    const int lane = lane_id();
    const int warps = static_cast<int>(gridDim.x) * (kExpansionThreads / kWarpSize);
    const long long row_words = p.row_bytes / 16, scale_words = p.scale_bytes / 4;
    for (int position = static_cast<int>(blockIdx.x) * (kExpansionThreads / kWarpSize) + warp_id(); position < p.capacity;
         position += warps) {
        const int row = p.src_row_slot[2LL * position], slot = p.src_row_slot[2LL * position + 1];
        if (row < 0 && !p.zero_padding) {
            if (lane == 0 && p.expanded_weights != nullptr)
                p.expanded_weights[position] = 0.0f;
            continue;
        }
        int4* x_out = reinterpret_cast<int4*>(p.expanded_x + position * p.row_bytes);
        const int4* x_in = reinterpret_cast<const int4*>(p.recv_x + static_cast<long long>(row) * p.row_bytes);
        for (long long w = lane; w < row_words; w += kWarpSize)
            x_out[w] = row >= 0 ? x_in[w] : make_int4(0, 0, 0, 0);
        if (p.expanded_x_scales != nullptr) {
            int* s_out = reinterpret_cast<int*>(p.expanded_x_scales + position * p.scale_bytes);
            const int* s_in = reinterpret_cast<const int*>(p.recv_x_scales + static_cast<long long>(row) * p.scale_bytes);
            for (long long w = lane; w < scale_words; w += kWarpSize)
                s_out[w] = row >= 0 ? s_in[w] : 0;
        }
        if (lane == 0 && p.expanded_weights != nullptr)
            p.expanded_weights[position] = row >= 0 ? p.recv_topk_weights[static_cast<long long>(row) * p.num_topk + slot] : 0.0f;
    }
}

// One block per received row: the sum of its expanded copies in top-k slot order, in fp32 from +0, rounded to BF16
// once (0 for a row with none); with weights, each slot's expanded weight folded back to [row, slot] (0 elsewhere).
__global__ void __launch_bounds__(kExpansionThreads) expansion_reduce(const ExpansionParams p) {
    __shared__ int s_rows[kMaxTopk];
    const int words = p.hidden / 8;
    for (int row = blockIdx.x; row < p.num_rows; row += gridDim.x) {
        for (int k = threadIdx.x; k < p.num_topk; k += blockDim.x) {
            const int position = p.expanded_row_of[static_cast<long long>(row) * p.num_topk + k];
            s_rows[k] = position;
            if (p.folded_weights != nullptr)
                p.folded_weights[static_cast<long long>(row) * p.num_topk + k] =
                    position >= 0 && p.expanded_weights != nullptr ? p.expanded_weights[position] : 0.0f;
        }
        __syncthreads();
        for (int w = threadIdx.x; w < words; w += blockDim.x) {
            float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            for (int k = 0; k < p.num_topk; ++k) {
                if (s_rows[k] >= 0)
                    add_bf16x8(acc, p.combine_x[static_cast<long long>(s_rows[k]) * words + w]);
            }
            p.reduced_x[static_cast<long long>(row) * words + w] = round_bf16x8(acc);
        }
        __syncthreads();  // s_rows is rewritten for the next row
    }
}

}  // namespace deep_ep
