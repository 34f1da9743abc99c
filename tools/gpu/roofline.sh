#!/bin/bash
# Issue 22's GPU run: the roofline columns of the whole-model bench (src/bench/bench-cli.ts) for mamba-130m vs
# pythia-160m (and Mamba-2 at mamba2-130m's shapes) at 1k and 32k, f32 and f16 weights, with exact timestamps
# (Dawn's rounding off), so the named bound can be checked against GPU time (goal: within 20% of the floor, or the gap
# explained). From the repo root here:
#   bash tools/build-bench.sh && bash ../shared/gpu/pack.sh dist-bench/bench-cli.mjs
#   (device tool, carry [".gpu"]) bash tools/gpu/roofline.sh          # ~3-5 min on an H100/H200
# Writes under $OUT: roofline.json / roofline.csv / roofline.log (exact timestamps), and roofline-rounded.log (Dawn's
# default 65.5 µs rounding, as a browser would round: which figures then fall back to the wall clock).
set -uo pipefail
OUT="${OUT:-$PWD/out}"; mkdir -p "$OUT"
ARGS="--pairs 130m,mamba2-130m --contexts ${CONTEXTS:-1024,32768} --dtype f32,f16 --decode ${DECODE:-256}"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1 || true
WEBGPU_DAWN_OPTIONS=disable-dawn-features=timestamp_quantization timeout -k 5 ${CAP:-420} bash .gpu/run.sh bench-cli.mjs $ARGS \
  --json "$OUT/roofline.json" --csv "$OUT/roofline.csv" > "$OUT/roofline.log" 2>&1
echo "exact: rc=$?"; grep -E "calibration|roofline|^(mamba|pythia)" "$OUT/roofline.log" | head -60
[ "${ROUNDED:-1}" = 1 ] && timeout -k 5 ${CAP_ROUNDED:-150} bash .gpu/run.sh bench-cli.mjs --pairs 130m --contexts 1024 --dtype f32 --decode 128 \
  > "$OUT/roofline-rounded.log" 2>&1; echo "rounded: rc=$?"
ls -la "$OUT"
