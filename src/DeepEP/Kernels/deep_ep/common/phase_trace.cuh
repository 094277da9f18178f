#pragma once

#include <deep_ep/common/ptx.cuh>
#include <deep_ep/common/utils.cuh>

// Where the communication kernels' blocks spend their time (issue 13), in programs compiled with DEEPEP_PHASE_TRACE
// only (`deepep bench --phases` sets it and prints the result). At each phase
// boundary the block synchronises and thread 0 adds the %globaltimer nanoseconds since its last boundary to the
// phase's sum; the sums cover every block of every launch of the module's kernel, and the last slot counts the block
// runs. Nanoseconds from the global timer, so a phase reads the same on every SM whatever the clock. The host reads
// the sums through the module's symbol (DeepEP.Runtimes.PhaseTrace). Without the define the timer is empty.

namespace deep_ep {

// C# twin: PhaseTrace.Phases (same order).
enum Phase : int {
    kPhaseSend = 0,  // casting or copying rows into the destinations' receive areas
    kPhaseArrive,    // counting the block's completion; the last block fences and signals every destination
    kPhaseWait,      // waiting for every source's signal (and checking its shape stamp)
    kPhaseSelect,    // dispatch receive: scanning the routing rows for the expert's (source, token) pairs
    kPhaseCopy,      // dispatch receive: copying the selected rows into the packed outputs
    kPhaseReduce,    // combine: the (weighted) reduction; notify: the prefix sums of the received counts
    kPhaseBarrier,   // normal mode: a rank barrier, or a copy kernel's entry barrier and mailbox reads
    kPhasePublish,   // notify: the receive counts into host-mapped memory, fenced for the host
};
constexpr int kNumPhases = 8;
static_assert(kPhasePublish + 1 == kNumPhases, "kNumPhases counts the phases");
DEEPEP_CHECK_CONSTANT(kNumPhases, DEEPEP_NUM_PHASES);

}  // namespace deep_ep

#ifdef DEEPEP_PHASE_TRACE
extern "C" {
// Sums in nanoseconds per phase, then the number of block runs. Zero at module load.
__device__ unsigned long long deepep_phase_ns[deep_ep::kNumPhases + 1];
}
#endif

namespace deep_ep {

#ifdef DEEPEP_PHASE_TRACE
class PhaseTimer {
public:
    __device__ __forceinline__ PhaseTimer() : last_(ptx::globaltimer()) {}

    // Called by every thread of the block at the end of `phase`.
    __device__ __forceinline__ void mark(Phase phase) {
        __syncthreads();
        if (threadIdx.x == 0) {
            const unsigned long long now = ptx::globaltimer();
            atomicAdd(&deepep_phase_ns[phase], now - last_);
            last_ = now;
        }
    }

    __device__ __forceinline__ ~PhaseTimer() {
        if (threadIdx.x == 0)
            atomicAdd(&deepep_phase_ns[kNumPhases], 1ull);
    }

private:
    unsigned long long last_;
};
#else
class PhaseTimer {
public:
    __device__ __forceinline__ void mark(Phase) {}
};
#endif

}  // namespace deep_ep
