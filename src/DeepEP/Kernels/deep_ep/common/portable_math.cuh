#pragma once

#include <deep_ep/common/utils.cuh>

// log2 and exp2 from IEEE-rounded operations only (__fadd_rn, __fmul_rn, __fdiv_rn, __fmaf_rn, scalbnf) in a fixed
// order, so they give the bits of the host twin DeepEP.Tensors.PortableMath; the _rn intrinsics also keep the
// compiler from contracting a product and a sum into an FMA the host does not do. lg2.approx / ex2.approx would
// differ from any host reference by an ulp here and there.

namespace deep_ep {

__device__ __forceinline__ float portable_horner(const float* coefficients, int count, float x) {
    float sum = coefficients[0];
    for (int i = 1; i < count; ++i)
        sum = __fmaf_rn(sum, x, coefficients[i]);
    return sum;
}

constexpr unsigned int kPositiveInfinityBits = 0x7f800000u;

__device__ __forceinline__ float portable_log2(float x) {
    if (x != x || x < 0.0f)  // NaN or negative
        return __uint_as_float(0x7fc00000u);
    if (x == 0.0f)
        return -__uint_as_float(kPositiveInfinityBits);
    if (x == __uint_as_float(kPositiveInfinityBits))
        return x;
    int exponent_bias = 0;
    if (x < 1.17549435e-38f) {  // the smallest normal float: a subnormal becomes normal, exactly
        x = __fmul_rn(x, 8388608.0f);
        exponent_bias = -23;
    }
    const unsigned int bits = __float_as_uint(x);
    const int exponent = static_cast<int>(bits >> 23) - 127 + exponent_bias;
    const float m = __uint_as_float((bits & 0x007fffffu) | 0x3f800000u);
    // log2(m) = (2 / ln 2) * atanh(t), t = (m - 1) / (m + 1) in [0, 1/3).
    const float t = __fdiv_rn(__fsub_rn(m, 1.0f), __fadd_rn(m, 1.0f));
    const float series[] = {1.0f / 15.0f, 1.0f / 13.0f, 1.0f / 11.0f, 1.0f / 9.0f, 1.0f / 7.0f, 1.0f / 5.0f, 1.0f / 3.0f, 1.0f};
    return __fmaf_rn(__fmul_rn(t, portable_horner(series, 8, __fmul_rn(t, t))), 2.88539008f, static_cast<float>(exponent));
}

__device__ __forceinline__ float portable_exp2(float x) {
    if (x != x)  // NaN
        return x;
    if (x >= 128.0f)
        return __uint_as_float(kPositiveInfinityBits);
    if (x < -160.0f)
        return 0.0f;
    // x = n + r, r in [-1/2, 1/2]: 2^r = e^(r ln 2), then scaled by 2^n.
    const float n = floorf(__fadd_rn(x, 0.5f));
    const float series[] = {1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};
    return scalbnf(portable_horner(series, 9, __fmul_rn(__fsub_rn(x, n), 0.693147182f)), static_cast<int>(n));
}

}  // namespace deep_ep
