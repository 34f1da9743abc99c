#!/usr/bin/env bash
# Issue 18 item 5 / issues 20 and 22 in one GPU call: the authors' kernels and ours, same call, same card.
#   bash tools/prep_official.sh                         # .official/ (ignored): the authors' sources, from a fetch
#   bash tools/build-bench.sh && bash ../shared/gpu/pack.sh dist-bench/kernels-cli.mjs dist-bench/bench-cli.mjs
#   (device, carry [".gpu", ".official"]) bash tools/gpu/official.sh      # ~8 min on an H100
# Steps (each capped; none starts within 10 s of DEADLINE): official.json (tools/bench_official.py: selective_scan_fwd
# fp32 built here, mamba_chunk_scan_combined fp32 and bf16), our kernel rows scan/ and ssd/ (kernels-cli, 3 repeats),
# the roofline run (tools/gpu/roofline.sh: 130m + mamba2-130m at 1k and 32k) and the prefill before/after
# (tools/gpu/bench-prefill.sh) when time is left. Writes $OUT/official.tgz and the files of the called scripts.
set -uo pipefail
T0=$(date +%s); DEADLINE=${DEADLINE:-580}
R=/tmp/official-out; rm -rf $R; mkdir -p $R
source "$(dirname "$0")/steps.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
step official ${CAP_OFFICIAL:-150} python3 tools/bench_official.py $R/official.json
step kernels ${CAP_KERNELS:-120} bash .gpu/run.sh kernels-cli.mjs --filter scan/fused,ssd/ --json $R/kernels.json --csv $R/kernels.csv
step roofline ${CAP_ROOFLINE:-200} env OUT=$R/roofline CAP=180 ROUNDED=0 bash tools/gpu/roofline.sh
step prefill ${CAP_PREFILL:-130} env OUT=$R bash tools/gpu/bench-prefill.sh
echo "total $(( $(date +%s) - T0 ))s" | tee -a $R/steps.txt
tar czf $OUT/official.tgz -C $R . && ls -la $OUT
