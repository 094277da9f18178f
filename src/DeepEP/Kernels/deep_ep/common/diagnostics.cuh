#pragma once

#include <deep_ep/common/utils.cuh>

// The one diagnostics ABI: the host-mapped block a kernel fills when a spin-wait passes its deadline (or it meets
// another failure it must report instead of acting on), and every code naming what it waited for. The host turns
// the block into an exception. C# twin: DeepEP.Runtimes.KernelDiagnostics and DeepEP.Runtimes.WaitCode.

namespace deep_ep {

// Host-mapped (PinnedHostMemory).
struct KernelDiagnostics {
    int timed_out;                 // 0 = fine; 2 = a thread is writing the record; 1 = record complete
    int rank;                      // the rank whose kernel gave up
    int peer_rank;                 // the rank it waited for, or -1
    int channel;                   // channel, expert or slot index, or -1
    int what;                      // one of the codes below, naming the wait
    int reserved;
    long long expected;            // the value waited for
    long long seen;                // the value last read
    unsigned long long elapsed_ns; // how long it waited
};
DEEPEP_CHECK_PARAMS_SIZE(KernelDiagnostics, DEEPEP_KERNEL_DIAGNOSTICS_SIZE);

// Codes for KernelDiagnostics::what.
constexpr int kWaitBarrier = 1;
constexpr int kWaitRecvCapacity = 2;
constexpr int kMissingTopkWeights = 3;
constexpr int kWaitLowLatencyDispatch = 4;
constexpr int kWaitLowLatencyCombine = 5;
constexpr int kLowLatencyRecvCapacity = 6;
constexpr int kMismatchedShape = 7;            // a peer's published row shape differs (expected/seen: RowShape words)
constexpr int kLowLatencyMismatchedShape = 8;  // a source's area header does not carry this call's shape stamp

}  // namespace deep_ep
