#!/usr/bin/env bash
# One GPU call: the training scan's check and speed, then the recipe on toys (issue 17, goals 1-2), from the repo root:
#   bash tools/gpu/toy.sh            (carry .corpus)
# Writes under $OUT: scan_check.json, toy-<name>.json per variant, train-toy.log (everything printed).
# Variants run side by side on the one GPU for TOY_SECONDS each; edit VARIANTS to try others.
set -uo pipefail
OUT="${OUT:-$PWD/out}"; mkdir -p "$OUT"
SECS="${TOY_SECONDS:-300}"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export TRITON_CACHE_DIR=/tmp/triton-cache
LOG="$OUT/train-toy.log"
VARIANTS="${VARIANTS:-A:mamba:2:256:16:2e-3 B:mamba:2:256:16:1e-3 C:mamba:2:256:64:2e-3 D:pythia:2:256:16:2e-3}"
{
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
  [ "${SKIP_CHECK:-0}" = 1 ] || python3 tools/train_toy.py check --out "$OUT/scan_check.json" 2>&1 | sed -u 's/^/[check] /'
  for v in $VARIANTS; do
    IFS=: read -r name arch layers d state lr <<<"$v"
    python3 tools/train_toy.py toy --name "$name" --arch "$arch" --layers "$layers" --d "$d" --state "$state" \
      --lr "$lr" --seconds "$SECS" --out "$OUT/toy-$name.json" ${TOY_ARGS:-} 2>&1 | sed -u "s/^/[$name] /" &
  done
  wait
} 2>&1 | tee "$LOG"
ls -la "$OUT"
