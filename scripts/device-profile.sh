#!/usr/bin/env bash
# Nsight Compute profile of one rank's fixed-cost kernels (issue 13), from a published bundle (scripts/publish-device.sh):
# low-latency FP8 dispatch and BF16 combine at 128 tokens, H 7168, top-8 of 288, then normal mode at 256 tokens, each
# kernel's duration, speed of light, launch, occupancy and warp-stall sections as CSV in $OUT (or ./profile-logs).
# PROFILE_LIMIT: seconds per profiled bench (default 150). One rank only: ncu serialises the kernels it profiles, so
# a cross-rank wait at several ranks would stall.
set -uo pipefail
out="${OUT:-profile-logs}"; mkdir -p "$out"
bundle="$(mktemp -d)"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1
sections=(--section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats)
profile() {
  local name="$1"; shift
  timeout -k 5 "${PROFILE_LIMIT:-150}" ncu --clock-control none --csv --page details "${sections[@]}" --launch-skip 4 --launch-count 40 "$@" \
    >"$out/ncu-$name.csv" 2>"$bundle/ncu-$name.err"
  local rc=$?
  echo "$name: rc $rc, $(grep -c '"Duration"' "$out/ncu-$name.csv") kernels"
  (( rc == 0 )) || tail -20 "$bundle/ncu-$name.err"  # stderr stays out of $OUT: a device call returns at most 8 files
  # Median duration, DRAM and SM throughput per kernel (name up to its template arguments).
  python3 - "$out/ncu-$name.csv" <<'PY'
import csv, re, statistics, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 14]
wanted = ("Duration", "DRAM Throughput", "Compute (SM) Throughput")
seen = {}
for r in rows[1:]:
    if r[12] in wanted:
        seen.setdefault((re.sub(r"^void |deep_ep::|\(.*", "", r[4]), r[12], r[13]), []).append(float(r[14].replace(",", "")))
for (kernel, metric, unit), values in sorted(seen.items()):
    print(f"{kernel:48.48} {metric:26} {statistics.median(values):10.2f} {unit:8} (n={len(values)})")
PY
}
profile lowlatency -k regex:low_latency "$bundle/DeepEP.Cli" bench --ranks 1 --mode lowlatency --warmups 5 --iterations 5
profile normal -k regex:'intranode|notify|dispatch_layout|barrier' "$bundle/DeepEP.Cli" bench --ranks 1 --mode normal --tokens 256 --warmups 5 --iterations 5
