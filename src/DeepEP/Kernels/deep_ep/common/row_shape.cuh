#pragma once

#include <deep_ep/common/timeout.cuh>

// Ranks of one normal-mode call must agree on the row shape (16-byte words per row, scales, top-k): rows land at
// offsets computed from it, so a rank calling with another shape would write over its peers' rows. Each rank
// publishes its shape word (packed by the host, C# twin DeepEP.Runtimes.RowShape) in its mailbox; every kernel that
// reads the mailboxes compares them before touching a peer's memory.

namespace deep_ep {

// Called by every thread after read_mailboxes; `Peer` has a `row_shape` word. Threads [0, num_ranks) compare one peer
// each with this rank; a differing peer is reported. Returns, on every thread, whether any differed.
template <typename Peer>
__device__ __forceinline__ bool row_shapes_differ(const Peer* peers, int rank, int num_ranks, KernelDiagnostics* diagnostics) {
    const bool differs = threadIdx.x < num_ranks && peers[threadIdx.x].row_shape != peers[rank].row_shape;
    if (differs)
        report_failure(diagnostics, Deadline::start(0), rank, threadIdx.x, -1, kMismatchedShape, peers[rank].row_shape,
                       peers[threadIdx.x].row_shape);
    return __syncthreads_or(differs);
}

}  // namespace deep_ep
