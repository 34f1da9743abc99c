#!/bin/bash
# Issue 20 item 6, before/after in one GPU-machine call: the whole-model bench with the page's prefill passes as
# they are sized now (CausalLM.passRows: the whole context per layer up to a 512 MiB activation budget) and with the
# fixed 1024-token passes every prefill used before (--prefill-chunk 1024), alternating, same bundle, same device.
#   bash tools/build-bench.sh && bash ../shared/gpu/pack.sh dist-bench/bench-cli.mjs   # -> .gpu/
#   (device, carry [".gpu"]) bash tools/gpu/bench-prefill.sh                         # ~150 s on an H200
# Writes $OUT/prefill.tgz: models-sized.{json,csv,log}, models-1024.{json,csv,log} (twice each, a and b), steps.txt.
T0=$(date +%s)
R=$OUT/prefill; mkdir -p $R
ARGS="--pairs 130m,370m --contexts 1024,4096,16384,32768 --contexts-large 4096,16384 --dtype f32 --decode 64"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run() { # run NAME CAP ARGS...
  local name=$1 cap=$2; shift 2; local s=$(date +%s)
  timeout -k 5 $cap bash .gpu/run.sh bench-cli.mjs $ARGS "$@" --json $R/$name.json --csv $R/$name.csv > $R/$name.log 2>&1
  echo "$name rc=$? in $(( $(date +%s) - s ))s" | tee -a $R/steps.txt; grep -E '^(mamba|pythia)' $R/$name.log | tail -12
}
run models-sized-a 120
run models-1024-a 120 --prefill-chunk 1024
run models-sized-b 120
run models-1024-b 120 --prefill-chunk 1024
echo "total $(( $(date +%s) - T0 ))s" | tee -a $R/steps.txt
cd $OUT && tar czf prefill.tgz prefill && rm -rf prefill && ls -la $OUT
