#!/usr/bin/env bash
# One GPU call of the demo models' training (tools/train_demo.py), from the repo root on the GPU machine:
#
#   bash tools/gpu/train.sh 1     # first call: plan (tokenizer, smoke of every code path, parity checks, timing),
#                                 # then the models from step 0
#   bash tools/gpu/train.sh 2     # every later call: the models resume (full checkpoint in .ckpt-full/ on a warm
#                                 # machine, else f16 weights in public/models + .ckpt/state-*.json) up to the plan
#   ARCHS=mamba2 bash tools/gpu/train.sh join
#                                 # a model joins the plan of an earlier run (carried .ckpt/plan.json and
#                                 # .ckpt/tokenizer.json): the same settings, total steps and batches; its own smoke
#                                 # run, parity checks, timing and call targets; then it trains from step 0.
#                                 # Later calls: ARCHS=mamba2 bash tools/gpu/train.sh 2
#
# ARCHS (env): the models of this call, any of mamba mamba2 pythia (default "mamba pythia", the demo pair;
# "mamba mamba2 pythia" plans and trains all three). They train side by side (one process each on the one GPU) on the
# same batches (a function of the step). Everything is saved by START + BUDGET seconds (default 555, for a 600 s call).
# Under $OUT (at most 8 files of <= 16 MiB come back): train.log, summary.json, and per model <arch>.tgz.00, .01, ...:
# a gzipped tar, split in 15 MiB parts, of public/models/demo-<arch>/ and .ckpt/ (plan, tokenizer, state). Turn them
# into the next call's carry / the committed models with (from the repo root here):
#   for a in mamba pythia; do cat <files>/$a.tgz.* | tar xzf - ; done      (the models of the call)
# Needs .corpus/ (tools/make_corpus.sh), carried.
set -uo pipefail
STAGE="${1:?usage: train.sh 1|2|join}"
case "$STAGE" in 1|2|join) ;; *) echo "usage: train.sh 1|2|join (got $STAGE)"; exit 2 ;; esac
ARCHS="${ARCHS:-mamba pythia}"
for arch in $ARCHS; do
  case "$arch" in mamba|mamba2|pythia) ;; *) echo "ARCHS: unknown model '$arch' (mamba, mamba2, pythia)"; exit 2 ;; esac
done
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
PLAN_ARGS="${PLAN_ARGS:-}"     # extra arguments for the plan (stage 1 and join), e.g. --calls 3
PY="${PYTHON:-python3}"   # tools/tests/test_train_sh.py runs this script on a CPU with a stand-in

run() {
  echo "== train.sh stage $STAGE, models $ARCHS, budget ${BUDGET}s, $(date -u)"
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
  python3 -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)' || [ -n "${PYTHON:-}" ] || return 1
  [ -f .corpus/corpus.jsonl.xz ] || { echo "no .corpus/corpus.jsonl.xz: build it with tools/make_corpus.sh and carry .corpus"; return 1; }
  local fresh="" join=""
  if [ "$STAGE" = 1 ] || [ "$STAGE" = join ]; then
    [ "$STAGE" = join ] && join="--join"
    $PY tools/train_demo.py plan $join --archs "${ARCHS// /,}" --deadline-epoch "$DEADLINE" $PLAN_ARGS $EXTRA || { echo "plan failed"; return 1; }
    fresh="--fresh"
  fi
  local arch
  for arch in $ARCHS; do rm -f ".ckpt-full/rc-$arch"; done
  for arch in $ARCHS; do
    ( $PY tools/train_demo.py train --arch $arch --deadline-epoch "$DEADLINE" $fresh $EXTRA; echo $? > .ckpt-full/rc-$arch ) 2>&1 \
      | sed -u "s/^/[$arch] /" &
  done
  wait
  local rcs="" ok=0 rc
  for arch in $ARCHS; do
    rc=$(cat ".ckpt-full/rc-$arch" 2>/dev/null || echo "?")
    rcs="$rcs $arch rc=$rc"
    [ "$rc" = 0 ] || ok=1
  done
  echo "== train processes:$rcs ($(( $(date +%s) - START ))s)"
  $PY tools/train_demo.py finalize --summary "$OUT/summary.json" > /dev/null || true
  return $ok
}

pack() {
  local arch
  for arch in $ARCHS; do
    local files=()
    # only what this call wrote (a failed process leaves the carried, older files: not sent back)
    if [ ! -f ".ckpt/state-$arch.json" ] || [ "$(stat -c %Y ".ckpt/state-$arch.json")" -lt "$START" ]; then
      echo "!! $arch: no state written in this call; nothing packed for it"
      continue
    fi
    [ -d "public/models/demo-$arch" ] && files+=("public/models/demo-$arch")
    for f in .ckpt/plan.json .ckpt/tokenizer.json .ckpt/gate.json ".ckpt/state-$arch.json"; do [ -f "$f" ] && files+=("$f"); done
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
