#pragma once

// The header at the start of every rank's communication buffer. Peers write into it over NVLink (through peer or
// IPC mappings), so its layout is fixed and identical on every rank. Its size is KernelLimits.CommHeaderBytes.

#include <deep_ep/common/utils.cuh>

namespace deep_ep {

constexpr int kMaxRanks = 32;
constexpr int kMaxLocalExperts = 1024;
constexpr int kMaxChannels = 128;
constexpr int kMailboxWords = 8;
DEEPEP_CHECK_CONSTANT(kMaxRanks, DEEPEP_MAX_RANKS);
DEEPEP_CHECK_CONSTANT(kMaxLocalExperts, DEEPEP_MAX_LOCAL_EXPERTS);
DEEPEP_CHECK_CONSTANT(kMaxChannels, DEEPEP_MAX_CHANNELS);
DEEPEP_CHECK_CONSTANT(kMailboxWords, DEEPEP_MAILBOX_WORDS);

struct CommHeader {
    int barrier_epochs[kMaxRanks];                       // [src]: the last barrier epoch src reached
    int counts[kMaxRanks][kMaxRanks];                    // [src][dst]: tokens src sends to dst
    int expert_counts[kMaxRanks][kMaxLocalExperts];      // [src][local expert]: (token, slot) pairs src sends
    int channel_prefix[kMaxRanks][kMaxChannels];         // [src][c]: src's tokens to this rank in channels 0..c
    int copy_arrivals;                                   // blocks of this rank's running copy kernel past their copies (exit_barrier)
    int reserved;
    long long mailbox[kMailboxWords];                    // this rank's per-call pointers (outputs or inputs) for peers to read
};
DEEPEP_CHECK_PARAMS_SIZE(CommHeader, DEEPEP_COMM_HEADER_SIZE);

}  // namespace deep_ep
