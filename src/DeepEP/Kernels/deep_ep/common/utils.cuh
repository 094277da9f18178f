#pragma once

// Small helpers shared by all kernels. No standard headers: NVRTC compiles with -default-device and the CUDA headers only.

namespace deep_ep {

constexpr int kWarpSize = 32;

template <typename T>
__host__ __device__ constexpr T ceil_div(T a, T b) {
    return (a + b - 1) / b;
}

__device__ __forceinline__ int lane_id() {
    return static_cast<int>(threadIdx.x) % kWarpSize;
}

__device__ __forceinline__ int warp_id() {
    return static_cast<int>(threadIdx.x) / kWarpSize;
}

// Butterfly max over the 32 lanes; every lane gets the result. Max is exact, so the order does not matter.
__device__ __forceinline__ float warp_reduce_max(float value) {
    #pragma unroll
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// Inclusive prefix sum over the 32 lanes (lane i gets the sum of lanes 0..i); all lanes must call it.
__device__ __forceinline__ int warp_inclusive_sum(int value) {
    const int lane = lane_id();
    #pragma unroll
    for (int offset = 1; offset < kWarpSize; offset *= 2) {
        const int lower = __shfl_up_sync(0xffffffffu, value, offset);
        if (lane >= offset)
            value += lower;
    }
    return value;
}

// ceil(log2(x)) for a positive normal float, from its bits: (exponent - 127) + (mantissa != 0).
__device__ __forceinline__ int ceil_log2_from_bits(float x) {
    const unsigned int bits = __float_as_uint(x);
    return static_cast<int>((bits >> 23) & 0xffu) - 127 + ((bits & 0x7fffffu) != 0 ? 1 : 0);
}

// 2^e as a float, exact for -126 <= e <= 127.
__device__ __forceinline__ float exp2_from_bits(int e) {
    return __uint_as_float(static_cast<unsigned int>(127 + e) << 23);
}

}  // namespace deep_ep

// Each kernel's parameter struct is checked against the size of its C# twin, which the host passes as a define.
#define DEEPEP_CHECK_PARAMS_SIZE(type, size_macro) \
    static_assert(sizeof(type) == (size_macro), #type " differs in size from its C# [StructLayout(Sequential)] twin")

// Each constant the host shares is checked against its C# definition (DeepEP.Runtimes.KernelLimits), passed as a define.
#define DEEPEP_CHECK_CONSTANT(name, macro) \
    static_assert((name) == (macro), #name " differs from its C# definition in KernelLimits")

namespace deep_ep {

// Top-k slots per token any kernel takes: at most one per lane of a warp.
constexpr int kMaxTopk = 32;
DEEPEP_CHECK_CONSTANT(kMaxTopk, DEEPEP_MAX_TOPK);
static_assert(kMaxTopk <= kWarpSize, "a warp holds a token's top-k row, one slot per lane");

}  // namespace deep_ep
