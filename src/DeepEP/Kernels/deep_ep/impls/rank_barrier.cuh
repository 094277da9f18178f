#pragma once

#include <deep_ep/common/timeout.cuh>
#include <deep_ep/impls/comm_header.cuh>

// A barrier across the ranks' streams: every rank publishes the epoch it reached into each peer's header and waits
// until every peer has published it into its own. Epochs only grow (all ranks issue the same sequence of
// operations), so the slots never need resetting and a fast rank can run ahead without confusing a slow one.

namespace deep_ep {

// Codes for KernelDiagnostics::what (C# twin: DeepEP.Backends.Kernels.WaitCode).
constexpr int kWaitBarrier = 1;
constexpr int kWaitRecvCapacity = 2;
constexpr int kMissingTopkWeights = 3;

constexpr int kMailboxWords = 8;

// Runs on threads [0, num_ranks) of one block; false after a timeout was recorded.
__device__ __forceinline__ bool rank_barrier(CommHeader* const* headers, int rank, int num_ranks, int epoch,
                                             unsigned long long timeout_ns, KernelDiagnostics* diagnostics) {
    const int peer = threadIdx.x;
    bool ok = true;
    if (peer < num_ranks) {
        // NOTES: the fence makes this rank's earlier writes (to peers and locally) visible before the epoch is.
        ptx::fence_acq_rel_sys();
        ptx::st_release_sys(&headers[peer]->barrier_epochs[rank], epoch);
        const Deadline deadline = Deadline::start(timeout_ns);
        ok = wait_at_least_sys(&headers[rank]->barrier_epochs[peer], epoch, deadline, diagnostics, rank, peer, -1,
                               kWaitBarrier);
    }
    return __syncthreads_and(ok);
}

struct BarrierParams {
    CommHeader* headers[kMaxRanks];   // every rank's header, as mapped on this device
    KernelDiagnostics* diagnostics;
    unsigned long long timeout_ns;
    long long mailbox[kMailboxWords]; // published into this rank's header before arriving, when publish != 0
    int rank;
    int num_ranks;
    int epoch;
    int publish;
};
DEEPEP_CHECK_PARAMS_SIZE(BarrierParams, DEEPEP_BARRIER_PARAMS_SIZE);

// With publish set, the mailbox goes out with the arrival: once the barrier completes every peer can read it, and
// it stays valid until this rank's next barrier, which cannot complete before the peers are done with it.
__global__ void barrier(BarrierParams p) {
    if (p.publish != 0 && threadIdx.x < kMailboxWords)
        p.headers[p.rank]->mailbox[threadIdx.x] = p.mailbox[threadIdx.x];
    __syncthreads();
    rank_barrier(p.headers, p.rank, p.num_ranks, p.epoch, p.timeout_ns, p.diagnostics);
}

// Copies every rank's mailbox into shared memory as a T (T is at most kMailboxWords words). Call from all threads.
template <typename T>
__device__ __forceinline__ void read_mailboxes(CommHeader* const* headers, int num_ranks, T* out) {
    static_assert(sizeof(T) <= sizeof(long long) * kMailboxWords, "mailbox payload too large");
    for (int i = threadIdx.x; i < num_ranks * kMailboxWords; i += blockDim.x) {
        const int r = i / kMailboxWords, w = i % kMailboxWords;
        if (w * sizeof(long long) < sizeof(T))
            reinterpret_cast<long long*>(out + r)[w] = ptx::ld_acquire_sys(&headers[r]->mailbox[w]);
    }
    __syncthreads();
}

}  // namespace deep_ep
