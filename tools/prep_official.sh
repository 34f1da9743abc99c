#!/usr/bin/env bash
# Copies the authors' kernels that tools/bench_official.py times into .official/ (git-ignored; never committed):
# csrc/selective_scan (the fp32 forward, its headers, selective_scan.cpp) and mamba_ssm/ops/triton + mamba_ssm/utils.
# Usage (repo root, here):  bash tools/prep_official.sh [path of a state-spaces/mamba git dir, default: the fetch mirror]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="${1:-/work/.mirror/state-spaces+mamba/repo}"
grep -qx '/.official/' .git/info/exclude 2>/dev/null || echo '/.official/' >> "$(git rev-parse --git-common-dir)/info/exclude"
rm -rf .official && mkdir -p .official
git --git-dir="$SRC" archive HEAD csrc/selective_scan mamba_ssm/ops/triton mamba_ssm/utils | tar x -C .official
rm -f .official/csrc/selective_scan/selective_scan_{bwd,fwd_fp16,fwd_bf16}*.cu
rm -rf .official/mamba_ssm/ops/triton/mamba3
: > .official/mamba_ssm/__init__.py; : > .official/mamba_ssm/ops/__init__.py
git --git-dir="$SRC" log -1 --format='%H %cs %s' > .official/COMMIT
du -sh .official; cat .official/COMMIT
