#!/usr/bin/env bash
# Samples what every thread of a running process is doing, to find what holds a rank back when ranks share a GPU
# (the device machine has no gdb, strace or perf, but has cuda-gdb and /proc):
#   scripts/sample-threads.sh PID OUTDIR [PERIOD_S] [STACK_EVERY]
# Every PERIOD_S seconds (default 1) it appends one line per thread (name, state, kernel wait channel, syscall) to
# OUTDIR/threads.log; every STACK_EVERY-th sample (default 5; 0 = never) it also writes all native stacks through
# cuda-gdb to OUTDIR/stacks-SECONDS.txt (driver entry points show by name; managed frames do not).
set -uo pipefail
pid="$1"; out="$2"; period="${3:-1}"; every="${4:-5}"
mkdir -p "$out"
n=0
while kill -0 "$pid" 2>/dev/null; do
  t=$SECONDS
  for task in /proc/"$pid"/task/*; do
    name=$(cat "$task/comm" 2>/dev/null) || continue
    state=$(awk '{print $3}' "$task/stat" 2>/dev/null)
    echo "$t ${task##*/} [$name] $state $(cat "$task/wchan" 2>/dev/null) | $(cut -d' ' -f1 "$task/syscall" 2>/dev/null)"
  done | grep -E 'rank|\.NET|DeepEP' >>"$out/threads.log"
  n=$((n + 1))
  if [[ "$every" -gt 0 && $((n % every)) -eq 0 ]] && command -v cuda-gdb >/dev/null; then
    timeout 30 cuda-gdb -q -batch -nx -p "$pid" -ex "set auto-solib-add off" -ex "sharedlibrary libcuda" \
      -ex "sharedlibrary libcoreclr" -ex "thread apply all bt 20" >"$out/stacks-$t.txt" 2>&1
  fi
  sleep "$period"
done
