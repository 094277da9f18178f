#!/usr/bin/env bash
# The fused MoE layer's GPU figures in one device call, from a published bundle (scripts/publish-device.sh):
# our bench (--mode fused, one rank, with --dump), the PyTorch grouped-GEMM baseline, and the independent float32
# reference of the dumped layers. scripts/device-fused.sh [QUANTS...] (default: none int8 fp8); logs and JSON land in
# $OUT (or ./fused-logs).
set -uo pipefail
quants=("${@:-none int8 fp8}")
out="${OUT:-fused-logs}"; mkdir -p "$out"
bundle="$(mktemp -d)"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1
# shellcheck disable=SC2206
quant_args=(${quants[*]})
timeout -k 5 300 "$bundle/DeepEP.Cli" bench --mode fused --ranks 1 --quant "${quant_args[@]}" --json "$out/fused-r1.json" --dump "$out/dump" \
  2>&1 | tee "$out/fused-r1.log" | tail -40
timeout -k 5 120 python3 scripts/fused_moe_torch.py bench --json "$out/torch.json" 2>&1 | tee "$out/torch.log" | tail -20
for dir in "$out"/dump/*/; do
  timeout -k 5 120 python3 scripts/fused_moe_torch.py reference "$dir" 2>&1 | tail -2
done
