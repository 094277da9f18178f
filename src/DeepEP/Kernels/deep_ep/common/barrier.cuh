#pragma once

#include <deep_ep/common/timeout.cuh>
#include <deep_ep/common/comm_header.cuh>

// A barrier across the ranks' streams: every rank publishes the epoch it reached into each peer's header and waits
// until every peer has published it into its own. Epochs only grow (all ranks issue the same sequence of
// operations), so the slots never need resetting and a fast rank can run ahead without confusing a slow one.

namespace deep_ep {

// Runs on threads [0, num_ranks) of one block; false after a timeout was recorded. With a `mask` (shrink mode),
// masked peers are skipped and a peer that misses the deadline is masked instead of failing the barrier.
__device__ __forceinline__ bool rank_barrier(CommHeader* const* headers, int rank, int num_ranks, int epoch,
                                             unsigned long long timeout_ns, KernelDiagnostics* diagnostics,
                                             int* mask = nullptr) {
    const int peer = threadIdx.x;
    bool ok = true;
    if (peer < num_ranks && (mask == nullptr || ptx::ld_volatile(&mask[peer]) == 0)) {
        // NOTES: the fence makes this rank's earlier writes (to peers and locally) visible before the epoch is.
        ptx::fence_acq_rel_sys();
        ptx::st_release_sys(&headers[peer]->barrier_epochs[rank], epoch);
        const Deadline deadline = Deadline::start(timeout_ns);
        if (mask == nullptr) {
            ok = wait_at_least_sys(&headers[rank]->barrier_epochs[peer], epoch, deadline, diagnostics, rank, peer, -1,
                                   kWaitBarrier);
        } else {
            while (ptx::ld_acquire_sys(&headers[rank]->barrier_epochs[peer]) < epoch) {
                if (deadline.expired()) {
                    atomicExch(&mask[peer], 1);
                    break;
                }
            }
        }
    }
    return __syncthreads_and(ok);
}

// The barrier at the start of a copy kernel, saving a launch: block 0 publishes this rank's mailbox and arrives,
// every block waits for every rank's arrival before it reads their mailboxes. The copy kernels launch cooperatively,
// so block 0 is resident while the others spin.
__device__ __forceinline__ bool entry_barrier(CommHeader* const* headers, int rank, int num_ranks, int epoch,
                                             const long long* mailbox, unsigned long long timeout_ns,
                                             KernelDiagnostics* diagnostics) {
    if (blockIdx.x == 0) {
        if (threadIdx.x < kMailboxWords)
            headers[rank]->mailbox[threadIdx.x] = mailbox[threadIdx.x];
        __syncthreads();
        if (threadIdx.x < num_ranks) {
            // NOTES: the fence publishes the mailbox (written by other threads, ordered by the block barrier) first.
            ptx::fence_acq_rel_sys();
            ptx::st_release_sys(&headers[threadIdx.x]->barrier_epochs[rank], epoch);
        }
    }
    bool ok = true;
    if (threadIdx.x < num_ranks) {
        const Deadline deadline = Deadline::start(timeout_ns);
        ok = wait_at_least_sys(&headers[rank]->barrier_epochs[threadIdx.x], epoch, deadline, diagnostics, rank,
                               threadIdx.x, -1, kWaitBarrier);
    }
    return __syncthreads_and(ok);
}

// The barrier at the end of a copy kernel, saving the barrier kernel after it. Each block arrives once its stores
// are issued (after the block barrier, a GPU-scope release arrival orders the whole block's stores, to peers too,
// before it); the last to arrive acquires the arrivals at system scope and runs rank_barrier, whose release stores
// carry every block's writes to the peers and whose wait ends the kernel only once every rank's copies are done.
// Every block must call it exactly once, after a failure too (a block that left early would leave the count off for
// the next call); the wait then stops at once (failed_earlier).
__device__ __forceinline__ void exit_barrier(CommHeader* const* headers, int rank, int num_ranks, int epoch,
                                            unsigned long long timeout_ns, KernelDiagnostics* diagnostics) {
    __shared__ bool s_is_last;
    __syncthreads();
    if (threadIdx.x == 0) {
        int* arrivals = &headers[rank]->copy_arrivals;
        const bool last = ptx::atomic_add_release_gpu(arrivals, 1) == static_cast<int>(gridDim.x) - 1;
        if (last)
            *arrivals = 0;  // the next copy kernel on this stream starts after this one has ended
        s_is_last = last;
    }
    __syncthreads();
    if (!s_is_last)
        return;
    // NOTES: acquires the other blocks' arrivals at system scope, so the barrier's release stores cover their stores.
    ptx::fence_acq_rel_sys();
    rank_barrier(headers, rank, num_ranks, epoch, timeout_ns, diagnostics);
}

// Copies every rank's mailbox into shared memory as a T (T is at most kMailboxWords words). T's first kPointerWords
// words are pointers in the publishing rank's address space: each non-null one gets that rank's delta added (its
// IPC mapping here minus its own address; 0 under peer access). Call from all threads.
template <typename T, int kPointerWords>
__device__ __forceinline__ void read_mailboxes(CommHeader* const* headers, const long long* deltas, int num_ranks,
                                               T* out) {
    static_assert(sizeof(T) <= sizeof(long long) * kMailboxWords, "mailbox payload too large");
    static_assert(kPointerWords * sizeof(long long) <= sizeof(T), "more pointer words than the payload holds");
    for (int i = threadIdx.x; i < num_ranks * kMailboxWords; i += blockDim.x) {
        const int r = i / kMailboxWords, w = i % kMailboxWords;
        if (w * sizeof(long long) < sizeof(T)) {
            long long word = ptx::ld_acquire_sys(&headers[r]->mailbox[w]);
            if (w < kPointerWords && word != 0)
                word += deltas[r];
            reinterpret_cast<long long*>(out + r)[w] = word;
        }
    }
    __syncthreads();
}

}  // namespace deep_ep
