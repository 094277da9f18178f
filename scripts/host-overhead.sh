#!/usr/bin/env bash
# Where a call's host time goes (issue 13: host CPU per low-latency pair). Two views of one bench at one rank,
# low-latency mode, many iterations:
#   scripts/host-overhead.sh          on the GPU machine, from a published bundle (.device/bundle.tar.xz, which carries
#                                     libcudatime.so): the bench through tools/cuda-shims/cuda_time.c, which times every
#                                     driver entry point; our share is the host row minus the driver's share.
#   scripts/host-overhead.sh --null   anywhere (needs cc): the bench on tools/cuda-shims/null_cuda.c, a driver whose
#                                     calls cost nothing, so the host row is our own code; then the driver calls of one
#                                     dispatch + combine pair, read from its trace.
# OUT (default ./host-logs) receives driver.csv (device) or pair-calls.txt (--null).
set -euo pipefail
out="${OUT:-host-logs}"; mkdir -p "$out"
work="$(mktemp -d)"
# Few enough calls that the GPU queue never fills: a full queue makes a launch wait for the GPU, which is not host work.
bench=(bench --mode lowlatency --ranks 1 --warmups 20 --iterations 200)
host_row() { grep -A1 "host CPU per" | sed 's/│/ /g; s/  */ /g' | head -2; }
if [[ "${1:-}" == "--null" ]]; then
  cc -O2 -shared -fPIC -o "$work/libnullcuda.so" tools/cuda-shims/null_cuda.c -lpthread
  export DEEPEP_CUDA_LIBRARY="$work/libnullcuda.so" DEEPEP_NVRTC_LIBRARY="$work/libnullcuda.so" DEEPEP_NCCL_LIBRARY="$work/libnullcuda.so"
  export DEEPEP_CACHE_DIR="$work/cache"
  dotnet build src/DeepEP.Cli -c Release -v quiet -nologo >/dev/null
  cli=(dotnet src/DeepEP.Cli/bin/Release/net10.0/DeepEP.Cli.dll)
  echo "null driver (no kernels run; correctness rows fail by design), our code only:"
  "${cli[@]}" "${bench[@]}" 2>&1 | host_row || true
  # One timed pair = the calls between two host-row iterations: trace a short run and print the last repeat.
  NULL_CUDA_TRACE="$work/trace.txt" "${cli[@]}" bench --mode lowlatency --ranks 1 --warmups 1 --iterations 3 >/dev/null 2>&1 || true
  python3 - "$work/trace.txt" "$out/pair-calls.txt" <<'PY'
import collections, sys
calls = open(sys.argv[1]).read().split()
# The host row's loop (1 warm-up + 3 timed pairs) is the longest stretch with no event or synchronisation.
best, start = (0, 0), 0
for i, name in enumerate(calls + ["cuEventRecord"]):
    if name.startswith(("cuEvent", "cuStreamSynchronize")):
        best = max(best, (start, i), key=lambda r: r[1] - r[0])
        start = i + 1
stretch = calls[best[0]:best[1]]
counts = collections.Counter(stretch)
open(sys.argv[2], "w").write("\n".join(stretch) + "\n")
print(f"driver calls per dispatch + combine pair ({len(stretch) / 4:g}):")
print("\n".join(f"{n / 4:6g} {name}" for name, n in counts.most_common()))
PY
  exit 0
fi
bundle="$work/bundle"; mkdir -p "$bundle"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1
echo "real driver:"; "$bundle/DeepEP.Cli" "${bench[@]}" 2>&1 | host_row || true
echo "through the timing shim (each driver call timed):"
DEEPEP_CUDA_LIBRARY="$bundle/libcudatime.so" CUDA_TIME_OUT="$out/driver.csv" "$bundle/DeepEP.Cli" "${bench[@]}" 2>&1 | host_row || true
sort -t, -k3 -g -r "$out/driver.csv" | head -15 | awk -F, '{ printf "%-44s %10s %14s %12s\n", $1, $2, $3, $4 }'
