#!/usr/bin/env bash
# compute-sanitizer (memcheck, racecheck, synccheck, initcheck) over every kernel family, on a GPU machine with a
# bundle from scripts/publish-device.sh in .device/. Two runs per tool:
# - one rank: deepep bench runs the layout, normal dispatch and combine (BF16, FP8), low-latency dispatch and
#   combine, so every kernel runs with no cross-rank wait;
# - two ranks as two processes on one GPU (deepep launch): each process is sanitised alone and the driver
#   time-slices them. Ranks as threads are not run: the tool serialises a process's kernels, so a rank's waiting
#   kernel would hold back the peer it waits for until the deadline.
# H = 1152 (an odd number of 128-channel groups) covers the padded low-latency FP8 messages. Logs land in $OUT (or
# ./sanitizer-logs); each run's ERROR SUMMARY lines are printed.
set -uo pipefail
out="${OUT:-sanitizer-logs}"
mkdir -p "$out"
bundle="$(mktemp -d)"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1 DEEPEP_TIMEOUT_S=600
small=(bench --tokens 64 --ll-tokens 8 --hidden 1152 --warmups 0 --iterations 1)
for tool in memcheck racecheck synccheck initcheck; do
  sanitize=(compute-sanitizer --tool "$tool" --error-exitcode 99)
  "${sanitize[@]}" "$bundle/DeepEP.Cli" "${small[@]}" --ranks 1 >"$out/$tool-1-rank.log" 2>&1
  echo "$tool, 1 rank: exit $?; $(grep 'ERROR SUMMARY' "$out/$tool-1-rank.log" | tr '\n' ' ')"
  "$bundle/DeepEP.Cli" launch -n 2 -- "${sanitize[@]}" "$bundle/DeepEP.Cli" "${small[@]}" >"$out/$tool-2-processes.log" 2>&1
  echo "$tool, 2 processes: exit $?; $(grep 'ERROR SUMMARY' "$out/$tool-2-processes.log" | tr '\n' ' ')"
done
