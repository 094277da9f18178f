#pragma once

#include <deep_ep/common/diagnostics.cuh>
#include <deep_ep/common/ptx.cuh>

// Every spin-wait has a deadline. On expiry the kernel writes what it waited for into a host-mapped
// KernelDiagnostics block and returns; the host turns the block into CommunicationTimeoutException.
// No trap: a trap poisons the context and the process loses the message.

namespace deep_ep {

struct Deadline {
    unsigned long long start_ns;
    unsigned long long timeout_ns;

    __device__ __forceinline__ static Deadline start(unsigned long long timeout_ns) {
        return Deadline{ptx::globaltimer(), timeout_ns};
    }

    __device__ __forceinline__ unsigned long long elapsed_ns() const {
        return ptx::globaltimer() - start_ns;
    }

    __device__ __forceinline__ bool expired() const {
        return elapsed_ns() > timeout_ns;
    }
};

// Records a timeout (or another failure a kernel must report instead of acting on, coded in `what`); the first
// record wins, the others return. The host reads the block after the
// kernel has exited, so relaxed field stores followed by a release of `timed_out` suffice.
__device__ __forceinline__ void report_failure(KernelDiagnostics* diagnostics, const Deadline& deadline, int rank,
                                               int peer_rank, int channel, int what, long long expected, long long seen) {
    if (atomicCAS(&diagnostics->timed_out, 0, 2) != 0)
        return;
    ptx::st_relaxed_sys(&diagnostics->rank, rank);
    ptx::st_relaxed_sys(&diagnostics->peer_rank, peer_rank);
    ptx::st_relaxed_sys(&diagnostics->channel, channel);
    ptx::st_relaxed_sys(&diagnostics->what, what);
    ptx::st_relaxed_sys(&diagnostics->expected, expected);
    ptx::st_relaxed_sys(&diagnostics->seen, seen);
    ptx::st_relaxed_sys(reinterpret_cast<long long*>(&diagnostics->elapsed_ns), static_cast<long long>(deadline.elapsed_ns()));
    ptx::st_release_sys(&diagnostics->timed_out, 1);
}

// Whether a wait that has spun `spins` times should stop because an earlier wait of this rank already recorded a
// failure: the buffer is broken then, and each kernel queued behind the failed one would otherwise spend a whole
// deadline before the host hears of the first failure. Read every 256 spins only: the block is host memory.
__device__ __forceinline__ bool failed_earlier(const KernelDiagnostics* diagnostics, unsigned int spins) {
    return (spins & 255u) == 255u && ptx::ld_volatile(&diagnostics->timed_out) != 0;
}

// Spins until *flag >= expected (acquire, system scope). Returns false after recording a timeout, or when an
// earlier wait of this rank recorded one.
__device__ __forceinline__ bool wait_at_least_sys(const int* flag, int expected, const Deadline& deadline,
                                                  KernelDiagnostics* diagnostics, int rank, int peer_rank,
                                                  int channel, int what) {
    int seen;
    for (unsigned int spins = 0; (seen = ptx::ld_acquire_sys(flag)) < expected; spins++) {
        if (failed_earlier(diagnostics, spins))
            return false;
        if (deadline.expired()) {
            report_failure(diagnostics, deadline, rank, peer_rank, channel, what, expected, seen);
            return false;
        }
    }
    return true;
}

}  // namespace deep_ep
