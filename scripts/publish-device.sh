#!/usr/bin/env bash
# Publishes the CLI and the GPU test runner, self-contained for linux-x64, into one folder (they share the
# runtime files) and packs it, so a GPU machine without .NET can run both:
#   scripts/publish-device.sh .device && ship .device; there: tar xJf bundle.tar.xz -C /tmp/b && /tmp/b/DeepEP.Cli info
# OLD=<git revision> also builds that revision's library and CLI into the bundle's old/ folder (two assemblies laid
# over the same runtime), so scripts/device-compare.sh can time the old and the new build in one call.
set -euo pipefail
out="${1:-.device}"
stage="$(mktemp -d)"
dotnet publish src/DeepEP.Cli -c Release -r linux-x64 --self-contained -o "$stage" -v quiet -nologo
dotnet publish tests/DeepEP.Tests.Gpu -c Release -r linux-x64 --self-contained -o "$stage" -v quiet -nologo
# The driver timing shim of scripts/host-overhead.sh (the GPU machine may have no compiler).
cc -O2 -shared -fPIC -o "$stage/libcudatime.so" tools/cuda-shims/cuda_time.c -ldl
if [[ -n "${OLD:-}" ]]; then
  tree="$(mktemp -d)"
  git worktree add -q --detach "$tree" "$OLD"
  dotnet build "$tree/src/DeepEP.Cli" -c Release -v quiet -nologo
  mkdir -p "$stage/old"
  cp "$tree/src/DeepEP.Cli/bin/Release/net10.0/"{DeepEP.dll,DeepEP.Cli.dll} "$stage/old/"
  git -C "$tree" rev-parse --short HEAD >"$stage/old/REVISION"
  git worktree remove --force "$tree"
fi
mkdir -p "$out"
tar cJf "$out/bundle.tar.xz" -C "$stage" .
rm -rf "$stage"
ls -la "$out/bundle.tar.xz"
