#pragma once

#include <deep_ep/common/barrier.cuh>
#include <deep_ep/common/phase_trace.cuh>

// The barrier kernel across the ranks' streams (the protocol is in common/barrier.cuh).

namespace deep_ep {

struct BarrierParams {
    CommHeader* headers[kMaxRanks];   // every rank's header, as mapped on this device
    KernelDiagnostics* diagnostics;
    int* mask;                        // shrink mode: the low-latency mask (skip and mask dead peers); else null
    unsigned long long timeout_ns;
    int rank;
    int num_ranks;
    int epoch;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(BarrierParams, DEEPEP_BARRIER_PARAMS_SIZE);

__global__ void barrier(BarrierParams p) {
    PhaseTimer timer;
    rank_barrier(p.headers, p.rank, p.num_ranks, p.epoch, p.timeout_ns, p.diagnostics, p.mask);
    timer.mark(kPhaseBarrier);
}

}  // namespace deep_ep
