#!/usr/bin/env bash
# Runs the GPU suite from a published bundle (scripts/publish-device.sh), one part per rank filter so each part fits a
# device call: scripts/device-suite.sh SECONDS_PER_PART "2" "4,8" [-- extra runner arguments]. Logs land in $OUT (or
# ./suite-logs), one per part, and each part's summary line is printed. PART=k/n runs only every n-th test class
# starting at the k-th (1-based), so a suite longer than one call runs in n calls: PART=1/2, then PART=2/2. GROUP=name
# runs the classes of one line of scripts/suite-groups.txt instead (groups balanced by measured time).
set -uo pipefail
limit="$1"; shift
parts=()
while [[ $# -gt 0 && "$1" != "--" ]]; do parts+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
out="${OUT:-suite-logs}"; mkdir -p "$out"
bundle="$(mktemp -d)"
tar xJf .device/bundle.tar.xz -C "$bundle"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1
for part in "${parts[@]}"; do
  log="$out/suite-ranks-${part//,/_}${PART:+-part${PART//\//of}}.log"
  classes=()
  if [[ -n "${GROUP:-}" ]]; then
    log="$out/suite-ranks-${part//,/_}-$GROUP.log"
    groups="$(dirname "$0")/suite-groups.txt"
    line="$(grep -E "^$GROUP:" "$groups")" || { echo "no group $GROUP in $groups"; exit 2; }
    for name in ${line#*:}; do classes+=(-class "DeepEP.Tests.Gpu.$name"); done
    listed=" $(grep -vE '^\s*#' "$groups" | cut -d: -f2 | tr '\n' ' ') "
    DEEPEP_TEST_RANKS="$part" "$bundle/DeepEP.Tests.Gpu" -list classes 2>/dev/null | grep -E '^\s*DeepEP\.' | sed 's/ //g; s/^DeepEP\.Tests\.Gpu\.//' |
      while read -r name; do [[ "$listed" == *" $name "* ]] || echo "warning: $name is in no group of $groups"; done
  elif [[ -n "${PART:-}" ]]; then
    k="${PART%/*}"; n="${PART#*/}"
    mapfile -t names < <(DEEPEP_TEST_RANKS="$part" "$bundle/DeepEP.Tests.Gpu" -list classes 2>/dev/null | grep -E '^\s*DeepEP\.' | sort)
    for i in "${!names[@]}"; do
      (( i % n == k - 1 )) && classes+=(-class "${names[$i]// /}")
    done
  fi
  start=$SECONDS
  DEEPEP_TEST_RANKS="$part" timeout -k 5 "$limit" "$bundle/DeepEP.Tests.Gpu" -noColor -reporter verbose "${classes[@]}" "$@" >"$log" 2>&1
  rc=$?
  echo "ranks $part: exit $rc after $((SECONDS - start)) s: $(grep -E 'Total: [0-9]+' "$log" | tail -1)"
  grep -E '^\s*\[FAIL\]' "$log" | head -20
done
