#pragma once

#include <deep_ep/common/utils.cuh>

// In-place inclusive prefix sums of a short Int32 array (the per-expert receive counts, DeepEP-Ascend's
// MOE_EXPERT_TOKEN_NUMS_TYPE=0), queued after the kernel that wrote the counts so no host synchronisation is needed.

namespace deep_ep {

// C# twin: DeepEP.Runtimes.InclusiveScanParams.
struct InclusiveScanParams {
    int* values;  // [count], replaced by its inclusive prefix sums
    int count;
    int reserved;
};
DEEPEP_CHECK_PARAMS_SIZE(InclusiveScanParams, DEEPEP_INCLUSIVE_SCAN_PARAMS_SIZE);

// One warp: 32 values a step with a shuffle scan, carrying the running total (counts are at most a few thousand).
__global__ void __launch_bounds__(kWarpSize) inclusive_scan(const InclusiveScanParams p) {
    const int lane = lane_id();
    int carry = 0;
    for (int base = 0; base < p.count; base += kWarpSize) {
        const int i = base + lane;
        const int value = warp_inclusive_sum(i < p.count ? p.values[i] : 0) + carry;
        if (i < p.count)
            p.values[i] = value;
        carry = __shfl_sync(0xffffffffu, value, kWarpSize - 1);
    }
}

}  // namespace deep_ep
