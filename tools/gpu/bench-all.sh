#!/bin/bash
# Every figure docs/benchmarks.md quotes, in one GPU-machine call (device tool `run`, carry [".gpu"]):
#   bash tools/build-bench.sh && BENCH_ENTRY=recall npx vite build -c tools/vite.bench.config.ts
#   bash ../shared/gpu/pack.sh dist-bench/kernels-cli.mjs dist-bench/bench-cli.mjs dist-bench/recall.mjs
#   (device) bash tools/gpu/bench-all.sh            # ~200 s on an H200; writes $OUT/results.tgz
# Steps, each with a time cap (no new step starts within 8 s of DEADLINE seconds): the recall lab on the demo pair
# (passkey + multikey, 40 probes per cell), the whole-model bench (130m and 370m pairs, f32 and f16 weights), the
# scan and attention kernel rows (3 repeats each), torch SDPA and the copy/matmul ceilings, optionally the whole-model
# bench of an older bundle (.gpu/before-bench-cli.mjs, for before/after), and the remaining kernel rows.
# SKIP_RECALL=1 leaves the recall lab out. QUICK=1: tiny settings, for a smoke test of the script itself (e.g. on SwiftShader with a stand-in .gpu/run.sh).
T0=$(date +%s); DEADLINE=${DEADLINE:-555}; QUICK=${QUICK:-0}
R=$OUT/r; mkdir -p $R
source "$(dirname "$0")/steps.sh"
first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; echo "$1"; }
M=$PWD/public/models
DOC=$(first $PWD/public/docs/harbour-ledger.txt $PWD/harbour-ledger.txt)
TORCH=$(first tools/bench_torch.py bench_torch.py)
Q() { [ "$QUICK" = 1 ] && echo "$1" || echo "$2"; }
gpu() { nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > $R/$1 2>&1; }
gpu gpu-before.txt
bash .gpu/run.sh kernels-cli.mjs --help > /dev/null 2>&1 # unpack node + Dawn once
[ "${SKIP_RECALL:-0}" = 1 ] || step recall 200 bash .gpu/run.sh recall.mjs $M/demo-mamba $M/demo-pythia --doc $DOC --probes passkey,multikey \
  --lengths $(Q 64,128 256,512,1024,2048,4096,8192) --depths 0,0.25,0.5,0.75,1 --trials $(Q 1 8) --keys $(Q 1,4 1,4,16,64,128,256) \
  --key-lengths $(Q 128 2048,4096,1024,512) --key-trials $(Q 2 40) --max-seconds $(Q 30 80) --json $R/recall-demo.json
step models 130 bash .gpu/run.sh bench-cli.mjs $(Q --quick "--pairs 130m,370m --contexts 256,1024,4096,16384,32768 --contexts-large 1024") \
  --dtype f32,f16 --json $R/models.json --csv $R/models.csv
step kernels 200 bash .gpu/run.sh kernels-cli.mjs $(Q --quick "") --json $R/kernels.json --csv $R/kernels.csv
step torch 30 python3 $TORCH $R/torch.json --only sdpa
[ -f .gpu/before-bench-cli.mjs ] && step models-before 70 bash .gpu/run.sh before-bench-cli.mjs \
  $(Q --quick "--pairs 130m --contexts 1024,4096,16384,32768") --decode $(Q 8 64) --json $R/models-before.json --csv $R/models-before.csv
gpu gpu-after.txt
echo "total $(( $(date +%s) - T0 ))s" | tee -a $R/steps.txt
cd $OUT && tar czf results.tgz r && rm -rf r && ls -la $OUT
