#!/usr/bin/env bash
# The old and the new build timed in one call on the GPU machine, from a bundle published with
# OLD=<revision> scripts/publish-device.sh: scripts/device-compare.sh [ROUNDS] -- <deepep arguments>. Each round runs
# the old build, then the new one, with the same arguments (default round count 1); both tables are printed under the
# build's name. The old build is the new bundle with the old revision's DeepEP.dll and DeepEP.Cli.dll laid over it.
set -uo pipefail
rounds=1
[[ "${1:-}" =~ ^[0-9]+$ ]] && { rounds="$1"; shift; }
[[ "${1:-}" == "--" ]] && shift
work="$(mktemp -d)"
mkdir -p "$work/new"
tar xJf .device/bundle.tar.xz -C "$work/new"
[[ -f "$work/new/old/REVISION" ]] || { echo "the bundle has no old build: publish it with OLD=<revision>"; exit 2; }
cp -a "$work/new" "$work/old"
cp "$work/new/old/"{DeepEP.dll,DeepEP.Cli.dll} "$work/old/"
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1
for ((round = 1; round <= rounds; round++)); do
  for build in old new; do
    label="$build"; [[ "$build" == old ]] && label="old ($(cat "$work/new/old/REVISION"))"
    echo "=== round $round: $label: deepep $*"
    "$work/$build/DeepEP.Cli" "$@" 2>&1
  done
done
