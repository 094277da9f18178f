#pragma once

// The number format of the fused MoE layer's expert GEMM operands (docs/fused-moe.md). Kernels take it as a template
// argument; the host names the enumerator in its name expression (DeepEP.Runtimes.QuantFormat), so no value can drift.

namespace deep_ep {

enum class QuantFormat { kBf16, kInt8, kFp8 };

}  // namespace deep_ep
