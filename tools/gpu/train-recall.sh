#!/usr/bin/env bash
# One GPU call (device tool `run`, 600 s): the demo pair trained from step 0 in one call (tools/gpu/train.sh 1 with a
# one-call plan), then the recall lab on the freshly trained pair (passkey 40 probes per length, multikey K x length
# 40 per cell; --max-seconds is per model), as in tools/gpu/bench-all.sh. The tracked tree plus carry must stay under 64 MiB, so this call runs
# with public/models/demo-{mamba,pythia} untracked (the training rewrites them) and carries .corpus, .fix (the
# shipped tokenizer.json, byte for byte) and .gpu (pack.sh with dist-bench/recall.mjs).
# Under $OUT: train.log, summary.json, mamba.tgz.*, pythia.tgz.* (train.sh) and recall.tgz (recall-demo.json + log).
set -uo pipefail
T0=$(date +%s)
TRAIN_BUDGET=${TRAIN_BUDGET:-450}
BUDGET=$TRAIN_BUDGET PLAN_ARGS="${PLAN_ARGS:---calls 1 --safety 0.95 --tokenizer .fix/tokenizer.json}" bash tools/gpu/train.sh 1
echo "== train.sh rc=$? at +$(( $(date +%s) - T0 ))s"
grep -E "plan:|step times|eval @|passkey" "$OUT/train.log" | tail -12 | cut -c1-300
R=/tmp/recall-out; rm -rf $R; mkdir -p $R
M=$PWD/public/models
LEFT=$(( ${CALL_S:-585} - ($(date +%s) - T0) - 15 ))
if [ -f public/models/demo-mamba/model.safetensors ] && [ $LEFT -gt 30 ]; then
  timeout -k 5 $LEFT bash .gpu/run.sh recall.mjs $M/demo-mamba $M/demo-pythia --doc $PWD/public/docs/harbour-ledger.txt \
    --probes passkey,multikey --lengths 256,512,1024,2048,4096,8192 --depths 0,0.25,0.5,0.75,1 --trials 8 \
    --keys 1,4,16,64,128,256 --key-lengths 2048,4096,1024,512 --key-trials 40 --max-seconds $(( (LEFT - 20) / 2 )) \
    --json $R/recall-demo.json > $R/recall-demo.log 2>&1; echo "== recall rc=$? (cap ${LEFT}s)"
  grep -iE "passkey|multikey|^ *(L|K)" $R/recall-demo.log | tail -20
fi
tar czf $OUT/recall.tgz -C $R . ; ls -la $OUT; echo "== total $(( $(date +%s) - T0 ))s"
