#!/usr/bin/env bash
# One GPU call of the demo-pair training (tools/train_demo.py), from the repo root on the GPU machine:
#
#   bash tools/gpu/train.sh 1     # first call: plan (tokenizer, smoke of every code path, parity checks, timing),
#                                 # then both models from step 0
#   bash tools/gpu/train.sh 2     # every later call: both models resume (full checkpoint in .ckpt-full/ on a warm
#                                 # machine, else f16 weights in public/models + .ckpt/state-*.json) up to the plan
#
# Both models train side by side (two processes on the one GPU) on the same batches (a function of the step).
# Everything is saved by START + BUDGET seconds (default 555, for a 600 s call). Under $OUT (at most 8 files of
# <= 16 MiB come back): train.log, summary.json, and per model <arch>.tgz.00, .01, ...: a gzipped tar, split in
# 15 MiB parts, of public/models/demo-<arch>/ and .ckpt/ (plan, tokenizer, state). Turn them into the next call's
# carry / the committed models with (from the repo root here):
#   cat <files>/mamba.tgz.* | tar xzf - ; cat <files>/pythia.tgz.* | tar xzf -
# Needs .corpus/ (tools/make_corpus.sh), carried.
set -uo pipefail
STAGE="${1:?usage: train.sh 1|2}"
BUDGET="${BUDGET:-555}"
START=$(date +%s)
DEADLINE=$((START + BUDGET))
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT" .ckpt .ckpt-full
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
export TORCHINDUCTOR_CACHE_DIR="$PWD/.ckpt-full/inductor"   # kept on a warm machine: no recompiles
export TRITON_CACHE_DIR="$PWD/.ckpt-full/triton"
LOG="$OUT/train.log"
EXTRA="${TRAIN_ARGS:-}"        # extra arguments for every train_demo.py call
PLAN_ARGS="${PLAN_ARGS:-}"     # extra arguments for the plan (stage 1), e.g. --calls 3
PY="${PYTHON:-python3}"   # tools/tests/test_train_sh.py runs this script on a CPU with a stand-in

run() {
  echo "== train.sh stage $STAGE, budget ${BUDGET}s, $(date -u)"
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
  python3 -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)' || [ -n "${PYTHON:-}" ] || return 1
  [ -f .corpus/corpus.jsonl.xz ] || { echo "no .corpus/corpus.jsonl.xz: build it with tools/make_corpus.sh and carry .corpus"; return 1; }
  local fresh=""
  if [ "$STAGE" = 1 ]; then
    $PY tools/train_demo.py plan --deadline-epoch "$DEADLINE" $PLAN_ARGS $EXTRA || { echo "plan failed"; return 1; }
    fresh="--fresh"
  fi
  rm -f .ckpt-full/rc-mamba .ckpt-full/rc-pythia
  for arch in mamba pythia; do
    ( $PY tools/train_demo.py train --arch $arch --deadline-epoch "$DEADLINE" $fresh $EXTRA; echo $? > .ckpt-full/rc-$arch ) 2>&1 \
      | sed -u "s/^/[$arch] /" &
  done
  wait
  local rm rp
  rm=$(cat .ckpt-full/rc-mamba 2>/dev/null || echo "?"); rp=$(cat .ckpt-full/rc-pythia 2>/dev/null || echo "?")
  echo "== train processes: mamba rc=$rm pythia rc=$rp ($(( $(date +%s) - START ))s)"
  $PY tools/train_demo.py finalize --summary "$OUT/summary.json" > /dev/null || true
  [ "$rm" = 0 ] && [ "$rp" = 0 ]
}

pack() {
  for arch in mamba pythia; do
    local files=()
    # only what this call wrote (a failed process leaves the carried, older files: not sent back)
    if [ ! -f ".ckpt/state-$arch.json" ] || [ "$(stat -c %Y ".ckpt/state-$arch.json")" -lt "$START" ]; then
      echo "!! $arch: no state written in this call; nothing packed for it"
      continue
    fi
    [ -d "public/models/demo-$arch" ] && files+=("public/models/demo-$arch")
    for f in .ckpt/plan.json .ckpt/tokenizer.json ".ckpt/state-$arch.json"; do [ -f "$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || continue
    tar czf - "${files[@]}" | split -b 15m -d -a 2 - "$OUT/$arch.tgz."
  done
  ls -la "$OUT"
  echo "== done in $(( $(date +%s) - START ))s"
}

run 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
pack 2>&1 | tee -a "$LOG"
exit "$rc"
