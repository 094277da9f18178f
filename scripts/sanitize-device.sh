#!/usr/bin/env bash
# compute-sanitizer (memcheck, racecheck, synccheck, initcheck) over every kernel family, on a GPU machine with a
# bundle from scripts/publish-device.sh in .device/. Runs per tool:
# - one rank, kernels backend: deepep bench runs the layout, normal dispatch and combine (BF16, FP8), low-latency
#   dispatch and combine (plain, CUDA graph, hooks), so every kernel runs with no cross-rank wait;
# - one rank, nccl backend: the staging and low-latency pack/unpack kernels around NCCL's own;
# - one rank on both backends in low-latency mode at H = 1536 (a multiple of 512): the LogFMT-10 combine;
# - the test-only kernels (FP8 cast, LogFMT-10 codec) through their GPU tests;
# - two ranks as two processes on one GPU (deepep launch): each process is sanitised alone and the driver
#   time-slices them. Ranks as threads are not run: the tool serialises a process's kernels, so a rank's waiting
#   kernel would hold back the peer it waits for until the deadline. initcheck is not run here: a process's
#   initcheck cannot see writes made by the peer process, so every read of a peer's mailbox is reported.
# API errors are not reported: NCCL probes kernel images it was not built with and handles the error; our own calls
# check every return code and throw. NCCL's kernels stay instrumented: excluding them would hide their writes, and
# initcheck would then report every read of what they received.
# H = 1152 (an odd number of 128-channel groups) covers the padded low-latency FP8 messages. Logs land in $OUT (or
# ./sanitizer-logs); each run's SUMMARY lines are printed. SANITIZE_LIMIT_S bounds each run (default 240 s), so a
# tool that stalls a kernel ends in exit 124 instead of spending the device budget; SANITIZE_TOOLS picks tools.
set -uo pipefail
out="${OUT:-sanitizer-logs}"
mkdir -p "$out"
bundle="$(mktemp -d)"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1 DEEPEP_TIMEOUT_S=600
small=(bench --tokens 64 --ll-tokens 8 --hidden 1152 --warmups 0 --iterations 1)
logfmt=(bench --mode lowlatency --ll-tokens 8 --hidden 1536 --warmups 0 --iterations 1 --ranks 1)

run() { # tool, log name, command...
  local tool=$1 name=$2 start=$SECONDS
  shift 2
  "$@" >"$out/$tool-$name.log" 2>&1
  echo "$tool, $name: exit $? after $((SECONDS - start)) s; $(grep -E 'SUMMARY' "$out/$tool-$name.log" | tr '\n' ' ')"
}

for tool in ${SANITIZE_TOOLS:-memcheck racecheck synccheck initcheck}; do
  sanitize=(timeout -k 5 "${SANITIZE_LIMIT_S:-240}" compute-sanitizer --tool "$tool" --error-exitcode 99 --report-api-errors no)
  run "$tool" 1-rank "${sanitize[@]}" "$bundle/DeepEP.Cli" "${small[@]}" --ranks 1
  run "$tool" 1-rank-nccl "${sanitize[@]}" "$bundle/DeepEP.Cli" "${small[@]}" --ranks 1 --backend nccl
  run "$tool" logfmt "${sanitize[@]}" "$bundle/DeepEP.Cli" "${logfmt[@]}"
  run "$tool" logfmt-nccl "${sanitize[@]}" "$bundle/DeepEP.Cli" "${logfmt[@]}" --backend nccl
  run "$tool" test-kernels "${sanitize[@]}" "$bundle/DeepEP.Tests.Gpu" -noColor \
    -class DeepEP.Tests.Gpu.Fp8CastKernelTests -class DeepEP.Tests.Gpu.LogFmtCodecKernelTests
  [[ $tool == initcheck ]] && continue
  run "$tool" 2-processes "$bundle/DeepEP.Cli" launch -n 2 -- "${sanitize[@]}" "$bundle/DeepEP.Cli" "${small[@]}"
done
