#!/usr/bin/env bash
# One GPU call: one model of the demo run resumes (cold: f16 weights in public/models/demo-$ARCH + .ckpt/state, Adam
# re-warmed) up to the plan's last step, then the recall lab on it. For a model that a call left short of the plan
# (e.g. stopped by the stop rule: TRAIN_ARGS=--ignore-stop goes on past it).
#   (device, carry [".corpus", ".ckpt", "public/models/demo-$ARCH", ".gpu"]) ARCH=mamba bash tools/gpu/resume-recall.sh
# Under $OUT: train-$ARCH.log, summary.json, recall.tgz, $ARCH.tgz.* (public/models/demo-$ARCH + .ckpt/state-$ARCH.json).
set -uo pipefail
T0=$(date +%s); ARCH=${ARCH:-mamba}; TRAIN_S=${TRAIN_S:-400}
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=$PWD/.ckpt-full/inductor TRITON_CACHE_DIR=$PWD/.ckpt-full/triton
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 tools/train_demo.py train --arch $ARCH --deadline-epoch $((T0 + TRAIN_S)) ${TRAIN_ARGS:-} > $OUT/train-$ARCH.log 2>&1
echo "== train rc=$? at +$(( $(date +%s) - T0 ))s"; grep -E "eval @|stop|saved" $OUT/train-$ARCH.log | tail -8 | cut -c1-400
python3 tools/train_demo.py finalize --summary $OUT/summary.json > /dev/null
R=/tmp/recall-out; rm -rf $R; mkdir -p $R; M=$PWD/public/models
timeout -k 5 ${RECALL_S:-100} bash .gpu/run.sh recall.mjs $M/demo-$ARCH --doc $PWD/public/docs/harbour-ledger.txt \
  --probes passkey,multikey --lengths 256,512,1024,2048,4096,8192 --depths 0,0.25,0.5,0.75,1 --trials 8 \
  --keys 1,4,16,64,128,256 --key-lengths 2048,4096,1024,512 --key-trials 40 --max-seconds 80 \
  --json $R/recall-demo-$ARCH.json > $R/recall-demo-$ARCH.log 2>&1; echo "== recall rc=$?"
grep -A12 "^passkey" $R/recall-demo-$ARCH.log | head -14; tar czf $OUT/recall.tgz -C $R .
tar czf - public/models/demo-$ARCH .ckpt/state-$ARCH.json | split -b 15m -d -a 2 - $OUT/$ARCH.tgz.
ls -la $OUT; echo "== total $(( $(date +%s) - T0 ))s"
