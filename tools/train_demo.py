#!/usr/bin/env python3
"""Trains the built-in demo models, a small MambaForCausalLM and a GPTNeoXForCausalLM (Pythia style) of matched size
(the pair), and a Mamba2ForCausalLM of the same size (demo-mamba2, issue 18), on the same offline English corpus
(tools/make_corpus.sh -> .corpus/) mixed with synthetic recall tasks, with the same batches in the same order and the
same schedule, over several GPU calls of at most 10 minutes each.

Recipe (issue 13): per-token loss weights (1 on language-model tokens, --answer-weight on the answer of a synthetic
task, 0 on tokens nobody can predict: the needle's own pass key, a fact's key and value); tasks passkey and copy-span
in the exact text of the page's recall lab (src/recall/passkey.ts, copyspan.ts) and the multi-key capacity task in the
format shared with the lab (src/recall/multikey-words.json); a curriculum over sequence lengths 256 -> 2048 (mixed,
fixed tokens per step); digits one per token (lm_common.train_bpe_tokenizer(split_digits=True)). Every batch is a
function of (seed, step) alone, so both models see the same tokens in the same order and a resumed run continues
exactly.

Mamba's selective scan in training: the chunked Triton kernels of tools/mamba_scan.py when they match the reference
scan on the GPU at start-up (forward and all gradients), else torch.compile of lm_common's chunked scan. Mamba-2's
SSD: lm_common.ssd_chunked (matrix products in fp32, autograd; no kernel of its own).

Subcommands (tools/gpu/train.sh runs them; a GPU call is: plan once, then one `train` process per model side by side):
  plan      stage 1 only: tokenizer, a smoke run of every code path on tiny models (train, full checkpoint and exact
            resume, export, golden, compact resume), parity of our modules with transformers (fp32) and of the bf16
            training forward with the fp32 reference, step-time measurement at full size -> the plan (total steps).
            --archs: the models of the run (default the pair mamba,pythia; the step budget is their summed step time).
            --join: a model joins an existing plan (.ckpt/plan.json): the plan's settings, tokenizer, total steps and
            so its batches are kept; the joining model gets its smoke run, parity checks, timing and its own per-call
            step targets (arch_targets). This is how demo-mamba2 sees the very tokens of a pair trained before it.
  train     one model (--arch): fresh (stage 1) or resumed (full checkpoint in .ckpt-full/ when present, else the
            compact one: f16 weights from public/models + .ckpt/state-<arch>.json, optimizer re-warmed), trains until
            this call's step target or the deadline, then saves both checkpoints and exports the model folder
  finalize  after both: each train_log.json gets the other model's eval; prints a summary

Outputs per model in <models>/demo-<arch> (default public/models): config.json, model.safetensors (float16),
tokenizer.json, tokenizer_config.json, tokenizer_check.json, train_log.json, golden.json.
"""
import argparse
import copy
import hashlib
import json
import lzma
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_common as C  # noqa: E402
from skill_gate import Gate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T_START = time.time()
DEV = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: local tests only
TASKS = ("text", "passkey", "multikey", "copy")
ARCHS = ("mamba", "mamba2", "pythia")  # every model this trainer knows
PAIR = ("mamba", "pythia")  # the default run (plan --archs)
SSM = ("mamba", "mamba2")  # models with a step size Δ (the selectivity view, drift of A_log / dt bias / D)


def log(*a):
    print(f"[{time.time() - T_START:7.1f}s]", *a, flush=True)


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def stable_frac(s):
    return int(hashlib.md5(s.encode()).hexdigest()[:8], 16) / 2**32


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(obj, path, indent=1):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")
    os.replace(tmp, path)


# ============================================================================= settings
# Everything that defines the run; stored in the plan (stage 1) and read back by every later call.
FULL = {
    "seed": 0,
    "vocab": 4096,
    "tok_sample_chars": 8_000_000,
    "heldout_frac": 0.02,
    "mamba": {"hidden_size": 384, "num_hidden_layers": 8, "state_size": 16, "expand": 2, "conv_kernel": 4},
    "pythia": {"hidden_size": 384, "num_hidden_layers": 4, "num_attention_heads": 6, "intermediate_size": 1280},
    # demo-mamba2 (issue 18): demo-mamba's width and depth, 12 heads x 64, N = 128 (8x Mamba-1's state per channel),
    # one group of B/C (so transformers' whole-d_inner gated norm equals the authors' group-wise one), chunk 64;
    # 9,524,896 parameters with the 4096-token vocabulary (demo-mamba 9,287,040: +2.6%)
    "mamba2": {"hidden_size": 384, "num_hidden_layers": 8, "state_size": 128, "expand": 2, "conv_kernel": 4,
               "head_dim": 64, "n_groups": 1, "chunk_size": 64},
    "max_position_embeddings": 2048,
    "tokens_per_step": 16384,
    "micro_tokens": {"mamba": 8192, "mamba2": 8192, "pythia": 16384},
    # curriculum: (from fraction of the run, lengths allowed, their weights); a step draws one length for all rows
    "curriculum": [
        [0.0, [256], [1]],
        [0.04, [256, 512], [1, 2]],
        [0.12, [256, 512, 1024], [1, 2, 3]],
        [0.25, [256, 512, 1024, 2048], [1, 2, 3, 4]],
    ],
    # v5 (issue 17): more recall rows, after the toy (tools/train_toy.py): a 2-layer Mamba learned the passkey to
    # 1.00 in ~30 M tokens (docs/demo-models.md)
    "synth_frac": 0.6,
    "task_shares": {"passkey": 0.45, "multikey": 0.4, "copy": 0.15},
    "answer_weight": 10.0,
    "multikey_max": 128,
    "passkey_digits": 5,
    # v6: v4's learning rate (v5's 1e-3 cost demo-mamba LM loss: 3.30 vs v4's 3.16 at 2e-3; the toy learned the
    # passkey at both)
    "lr": 2e-3,
    # v6 (issue 17): the skill stage first (tools/skill_gate.py). v5's demo-mamba never left the passkey plateau in
    # 71 M tokens of the main recipe (rows of 256-2048 tokens, 40% text: ~13 k passkey answers), while the toy broke
    # it after ~70 k answers on rows of 128-512. So the run opens with the toy's rows (synthetic only, passkey and
    # multi-key with K <= 16, 128-512 tokens) until the leader answers the passkey (exact >= 0.9 at 256 and 512 on
    # 32 gate probes each, checked every 100 steps; at most max_steps), then the main stage (everything above) runs
    # the plan's total steps. Both models see the same steps: the followers wait for the leader's decision.
    "skill": {"leader": "mamba", "lengths": [128, 256, 512], "weights": [1, 1, 1],
              "task_shares": {"passkey": 0.5, "multikey": 0.5}, "multikey_max": 16,
              "max_steps": 3000, "every": 100, "gate_lengths": [256, 512], "gate_n": 32, "exact": 0.9},
    "wd": 0.1,
    "betas": [0.9, 0.95],
    "warmup": 300,
    "rewarm": 100,
    "decay_frac": 0.2,
    "final_lr_frac": 0.1,
    "clip": 1.0,
    "chunk": 16,
    "log_every": 10,
    "eval_every": 300,
    "eval": {
        "passkey_lengths": [64, 256, 1024, 4096],
        "passkey_n": 24,
        "delta_length": 1024,
        "multikey_length": 2048,
        "multikey_ks": [1, 4, 16, 64],
        "multikey_n": 12,
        "copy_length": 512,
        "copy_n": 12,
    },
    "final_eval": {
        "heldout": [[512, 64], [2048, 16]],
        "passkey_lengths": [256, 512, 1024, 2048, 4096, 8192],
        "passkey_n": 48,
        "multikey": [[2048, [1, 4, 16, 64], 32], [4096, [256], 16]],
        "copy": [[512, 48], [2048, 24]],
    },
    # stop rule: from min_frac of the run on, if the passkey first-token accuracy (mean over `lengths`) of the newer
    # half of the last `window` evals is at most `delta` above that of the older half while all are below `below`, stop (the recipe is not working for this model:
    # keep the device time); reported in the state and train_log; --ignore-stop goes on in a later call
    "stop_rule": {"min_frac": 0.5, "window": 6, "delta": 0.02, "below": 0.5, "lengths": [256, 1024]},
}

SMOKE = json.loads(json.dumps(FULL))
SMOKE.update(
    {
        "vocab": 512,
        "tok_sample_chars": 400_000,
        "mamba": {"hidden_size": 64, "num_hidden_layers": 2, "state_size": 16, "expand": 2, "conv_kernel": 4},
        "pythia": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 1, "intermediate_size": 128},
        "mamba2": {"hidden_size": 64, "num_hidden_layers": 2, "state_size": 16, "expand": 2, "conv_kernel": 4,
                   "head_dim": 16, "n_groups": 1, "chunk_size": 48},
        "tokens_per_step": 512,
        "micro_tokens": {"mamba": 256, "mamba2": 256, "pythia": 512},
        "curriculum": [[0.0, [128], [1]], [0.5, [128, 256], [1, 1]]],
        "skill": {"leader": "mamba", "lengths": [64, 128], "weights": [1, 1], "task_shares": {"passkey": 0.5, "multikey": 0.5},
                  "multikey_max": 4, "max_steps": 4, "every": 2, "gate_lengths": [64], "gate_n": 2, "exact": 0.9},
        "warmup": 2,
        "rewarm": 2,
        "stop_rule": {"min_frac": 2.0, "window": 5, "delta": 0.02, "below": 0.5, "lengths": [64]},
        "log_every": 1,
        "eval_every": 3,
        "eval": {
            "passkey_lengths": [64, 128],
            "passkey_n": 4,
            "delta_length": 128,
            "multikey_length": 128,
            "multikey_ks": [1, 2],
            "multikey_n": 2,
            "copy_length": 128,
            "copy_n": 2,
        },
        "final_eval": {
            "heldout": [[128, 4], [256, 2]],
            "passkey_lengths": [64, 256],
            "passkey_n": 4,
            "multikey": [[256, [1, 4], 2]],
            "copy": [[128, 2]],
        },
    }
)


# ============================================================================= data
def load_corpus(path, heldout_frac):
    train, held = [], []
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            d = json.loads(line)
            (held if stable_frac(f"held:{i}") < heldout_frac else train).append(d["text"])
    return train, held


def encode_stream(tok, docs):
    ids = []
    for enc in tok.encode_batch(docs):
        ids.extend(enc.ids)
        ids.append(0)  # <|endoftext|> between documents
    return np.asarray(ids, dtype=np.int32)


def multikey_words():
    words = C.read_json(os.path.join(ROOT, "src/recall/multikey-words.json"))["words"]
    assert len(words) == len(set(words)) >= 256, "multikey-words.json: need >= 256 distinct words"
    return words


# The texts of the page's recall lab. Do not change them without changing src/recall (passkey.ts, the multi-key probe).
def passkey_needle_text(key):
    return f"\nThe pass key is {key}. Remember it. {key} is the pass key.\n"


PASSKEY_QUESTION = "\nWhat is the pass key? The pass key is"


def fact_text(key, value):
    return f"\nThe code for {key} is {value}.\n"


def multikey_question(key):
    return f"\nWhat is the code for {key}? The code for {key} is"


class Piece:
    """Token ids with a per-token loss weight and an answer mask (the weight is that of predicting the token)."""

    __slots__ = ("ids", "w", "ans")

    def __init__(self, ids, w=1.0, ans=False):
        self.ids = np.asarray(ids, dtype=np.int32)
        n = len(self.ids)
        self.w = np.full(n, w, dtype=np.float32) if np.isscalar(w) else np.asarray(w, dtype=np.float32)
        self.ans = np.full(n, ans, dtype=bool) if np.isscalar(ans) else np.asarray(ans, dtype=bool)

    @staticmethod
    def cat(pieces):
        p = Piece([])
        if pieces:
            p.ids = np.concatenate([x.ids for x in pieces])
            p.w = np.concatenate([x.w for x in pieces])
            p.ans = np.concatenate([x.ans for x in pieces])
        return p

    def __len__(self):
        return len(self.ids)


class Tasks:
    """Builds training rows and eval probes. Filler comes from a token stream (corpus documents joined by
    <|endoftext|>); needles are tokenized alone and inserted between filler tokens, as the recall lab does."""

    def __init__(self, tok, words, answer_weight, multikey_max=128, passkey_digits=5):
        self.tok, self.words, self.W = tok, words, float(answer_weight)
        self.multikey_max, self.digits = multikey_max, passkey_digits
        self.cache = {}
        self.digit_ids = np.array([tok.token_to_id(str(d)) for d in range(10)])
        assert all(d is not None for d in self.digit_ids), "tokenizer has no single-digit tokens"
        self.fact_len = max(len(self.enc_nocache(fact_text(w, 9999))) for w in words)
        self.checked = 0

    def enc(self, s):
        ids = self.cache.get(s)
        if ids is None:
            ids = self.cache[s] = np.asarray(self.tok.encode(s).ids, dtype=np.int32)
        return ids

    def enc_nocache(self, s):
        return np.asarray(self.tok.encode(s).ids, dtype=np.int32)

    def is_digit(self, ids):
        return np.isin(ids, self.digit_ids)

    # ------------------------------------------------------------------ pieces
    def passkey_needle(self, key):
        ids = self.enc_nocache(passkey_needle_text(key))
        w = np.ones(len(ids), dtype=np.float32)
        d = self.is_digit(ids)
        # the first run of digits is the key itself: nobody can predict it (weight 0); its repetition can be copied
        i = int(np.argmax(d))
        j = i
        while j < len(ids) and d[j]:
            j += 1
        assert j - i == len(str(key)), f"pass key {key} is not one token per digit: {ids.tolist()}"
        w[i:j] = 0.0
        return Piece(ids, w)

    def fact(self, key, value):
        parts = [
            Piece(self.enc("\nThe code for")),
            Piece(self.enc(f" {key}"), 0.0),  # which key comes next: unpredictable
            Piece(self.enc(" is ")),
            Piece(self.enc_nocache(str(value)), 0.0),  # the value: unpredictable
            Piece(self.enc(".\n")),
        ]
        p = Piece.cat(parts)
        if self.checked < 2000:  # the pieces must tokenize exactly like the whole fact (as the lab encodes it)
            full = self.enc_nocache(fact_text(key, value))
            assert np.array_equal(full, p.ids), f"fact pieces differ from the whole text: {full} vs {p.ids}"
            self.checked += 1
        return p

    def mk_question(self, key):
        parts = [
            Piece(self.enc("\nWhat is the code for")),
            Piece(self.enc(f" {key}"), 0.0),  # which of the K keys is asked: unpredictable
            Piece(self.enc("? The code for")),
            Piece(self.enc(f" {key}")),
            Piece(self.enc(" is")),
        ]
        p = Piece.cat(parts)
        if self.checked < 2000:
            full = self.enc_nocache(multikey_question(key))
            assert np.array_equal(full, p.ids), f"question pieces differ from the whole text: {full} vs {p.ids}"
        return p

    def answer(self, s):
        return Piece(self.enc_nocache(s), self.W, True)

    # ------------------------------------------------------------------ assembly
    @staticmethod
    def filler(stream, rng, n):
        if n <= 0:
            return Piece([])
        o = int(rng.integers(0, len(stream) - n - 1))
        return Piece(stream[o : o + n])

    def with_needles(self, stream, rng, total, needles, tail):
        """filler with the needles at sorted uniform random depths, then the tail; `total` tokens in all.
        Returns (Piece, [(start, end) of each needle])."""
        n_fill = total - sum(len(x) for x in needles) - len(tail)
        if n_fill < 0:
            raise ValueError(f"sequence of {total} tokens too short for the task ({total - n_fill} needed)")
        fill = self.filler(stream, rng, n_fill)
        cuts = np.sort(rng.integers(0, n_fill + 1, size=len(needles)))
        out, spans, prev, pos = [], [], 0, 0
        for c, nd in zip(cuts, needles):
            c = int(c)
            seg = Piece(fill.ids[prev:c])
            out.append(seg)
            pos += len(seg)
            out.append(nd)
            spans.append((pos, pos + len(nd)))
            pos += len(nd)
            prev = c
        out.append(Piece(fill.ids[prev:]))
        out.append(tail)
        return Piece.cat(out), spans

    # Each task returns a dict: row (Piece of `total` tokens ending "<question><answer><end>") when with_answer,
    # else prompt (Piece ending with the question) and answer ids with len(prompt) + len(answer) == total;
    # first: index into the answer of its first informative token (the first digit; 0 for copy); spans: needles.
    def passkey(self, stream, rng, total, with_answer=True):
        key = int(rng.integers(10 ** (self.digits - 1), 10**self.digits))
        needle = self.passkey_needle(key)
        q = Piece(self.enc(PASSKEY_QUESTION))
        ans = self.answer(f" {key}")
        return self._finish(stream, rng, total, [needle], q, ans, with_answer, key=key)

    def max_keys(self, total):
        q = len(self.enc(multikey_question(max(self.words, key=len)))) + 8
        return max(1, min(self.multikey_max, len(self.words), int(0.6 * (total - q) / self.fact_len)))

    def multikey(self, stream, rng, total, with_answer=True, k=None):
        if k is None:  # log-uniform over 1..max_keys(total)
            kmax = self.max_keys(total)
            k = min(kmax, max(1, int(math.exp(rng.uniform(0, math.log(kmax + 1))))))
        idx = rng.choice(len(self.words), size=k, replace=False)
        vals = rng.integers(1000, 10000, size=k)
        facts = [self.fact(self.words[i], int(v)) for i, v in zip(idx, vals)]
        j = int(rng.integers(0, k))
        q = self.mk_question(self.words[idx[j]])
        ans = self.answer(f" {int(vals[j])}")
        return self._finish(stream, rng, total, facts, q, ans, with_answer, k=k)

    def _finish(self, stream, rng, total, needles, q, ans, with_answer, **info):
        end = Piece(self.enc("."))
        first = int(np.argmax(self.is_digit(ans.ids)))
        if with_answer:
            row, spans = self.with_needles(stream, rng, total, needles, Piece.cat([q, ans, end]))
            return {"row": row, "first": first, "spans": spans, **info}
        prompt, spans = self.with_needles(stream, rng, total - len(ans), needles, q)
        return {"prompt": prompt, "answer": ans.ids, "first": first, "spans": spans, **info}

    def copy(self, stream, rng, total, with_answer=True):
        """Copy-span as in the recall lab: a span somewhere in the document, its first p tokens repeated at the end,
        the continuation is the next c tokens (no markers)."""
        p, c = int(rng.integers(8, 17)), 16
        ctx = self.filler(stream, rng, total - p - c).ids
        at = int(rng.integers(0, len(ctx) - (p + c) + 1))
        span = ctx[at : at + p + c]
        prompt = Piece(np.concatenate([ctx, span[:p]]))
        if with_answer:
            return {"row": Piece.cat([prompt, Piece(span[p:], self.W, True)]), "first": 0, "spans": [(at, at + p + c)]}
        return {"prompt": prompt, "answer": span[p:], "first": 0, "spans": [(at, at + p + c)]}

    def text(self, stream, rng, total):
        return {"row": self.filler(stream, rng, total)}


def length_for_step(cfg, step, total_steps, rng):
    p = step / max(1, total_steps)
    lengths, weights = cfg["curriculum"][0][1], cfg["curriculum"][0][2]
    for start, ls, ws in cfg["curriculum"]:
        if p >= start:
            lengths, weights = ls, ws
    w = np.asarray(weights, dtype=np.float64)
    return int(lengths[int(rng.choice(len(lengths), p=w / w.sum()))])


def make_batch(cfg, tasks, stream, step, total_steps, salt=1):
    """The batch of `step`: a pure function of (seed, salt, step, total_steps). Returns numpy arrays
    ids (B, L+1) int64, w (B, L) float32 loss weights of the targets ids[:, 1:], ans (B, L) bool, task (B,) int64."""
    rng = np.random.default_rng([cfg["seed"], salt, step])
    L = length_for_step(cfg, step, total_steps, rng)
    B = cfg["tokens_per_step"] // L
    ids = np.empty((B, L + 1), dtype=np.int64)
    w = np.empty((B, L), dtype=np.float32)
    ans = np.empty((B, L), dtype=bool)
    task = np.empty(B, dtype=np.int64)
    names = list(cfg["task_shares"])
    shares = np.asarray([cfg["task_shares"][n] for n in names], dtype=np.float64)
    for b in range(B):
        r = None
        if rng.random() < cfg["synth_frac"]:
            t = names[int(rng.choice(len(names), p=shares / shares.sum()))]
            try:
                r = getattr(tasks, t)(stream, rng, L + 1)["row"]
            except ValueError:  # does not fit (never at the trained lengths): a text row instead
                r = None
        if r is None:
            t = "text"
            r = tasks.text(stream, rng, L + 1)["row"]
        assert len(r) == L + 1, (t, len(r), L + 1)
        ids[b] = r.ids
        w[b] = r.w[1:]
        ans[b] = r.ans[1:]
        task[b] = TASKS.index(t)
    return {"ids": ids, "w": w, "ans": ans, "task": task, "L": L}


def skill_settings(cfg):
    """The settings of a skill-stage batch: the main settings with the skill stage's rows (synthetic only)."""
    sk = cfg["skill"]
    return {**cfg, "curriculum": [[0.0, sk["lengths"], sk["weights"]]], "synth_frac": 1.0, "task_shares": sk["task_shares"]}


def run_batch(cfg, tasks, stream, step, main_steps, stage, skill_end):
    """The batch of `step` of a run with a skill stage: a skill step draws from its own stream of batches (salt 2);
    main step s is the main recipe's batch s - G of main_steps (so the main stage's batches are those of a run
    without the skill stage). stage: 'skill' or 'main' (Gate.stage); skill_end: G (known for every main step)."""
    if stage == "skill":
        view = copy.copy(tasks)
        view.multikey_max = cfg["skill"]["multikey_max"]
        return make_batch(skill_settings(cfg), view, stream, step, 1, salt=2)
    return make_batch(cfg, tasks, stream, step - (skill_end or 0), main_steps)


# ============================================================================= models
def model_config(cfg, arch, vocab):
    if arch == "mamba":
        m = cfg["mamba"]
        return {
            "vocab_size": vocab,
            **m,
            "time_step_rank": -(-m["hidden_size"] // 16),
            "layer_norm_epsilon": 1e-5,
        }
    if arch == "mamba2":  # transformers' Mamba2Config names (lm_common.Mamba2LM reads the same dict)
        m = cfg["mamba2"]
        d_in = m["expand"] * m["hidden_size"]
        assert d_in % m["head_dim"] == 0, f"expand * hidden_size = {d_in} is not a multiple of head_dim {m['head_dim']}"
        return {
            "vocab_size": vocab,
            **m,
            "num_heads": d_in // m["head_dim"],
            "layer_norm_epsilon": 1e-5,
            "time_step_limit": [0.0, float("inf")],
            "use_bias": False,
            "use_conv_bias": True,
            "residual_in_fp32": True,
            "tie_word_embeddings": True,
        }
    p = cfg["pythia"]
    return {
        "vocab_size": vocab,
        **p,
        "layer_norm_eps": 1e-5,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        "use_parallel_residual": True,
        "max_position_embeddings": cfg["max_position_embeddings"],
    }


def build_model(cfg, arch, vocab):
    """Our module with the reference initialisation (mamba_ssm's for Mamba and Mamba-2; N(0, 0.02) and zero biases
    for GPT-NeoX), on the CPU, seeded."""
    mc = model_config(cfg, arch, vocab)
    torch.manual_seed(cfg["seed"])
    if arch == "mamba":
        model = C.MambaLM(mc)
        n_layer = mc["num_hidden_layers"]
        with torch.no_grad():
            torch.nn.init.normal_(model.backbone.embeddings.weight, std=0.02)
            for layer in model.backbone.layers:
                m = layer.mixer
                layer.norm.weight.fill_(1.0)
                for lin in (m.in_proj, m.x_proj, m.out_proj):
                    lin.reset_parameters()
                m.conv1d.reset_parameters()
                m.out_proj.weight /= math.sqrt(n_layer)
                dt_std = m.time_step_rank**-0.5
                torch.nn.init.uniform_(m.dt_proj.weight, -dt_std, dt_std)
                dt = torch.exp(torch.rand(m.dt_proj.bias.shape) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
                dt = dt.clamp(min=1e-4)
                m.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
                N = m.ssm_state_size
                m.A_log.copy_(torch.log(torch.arange(1, N + 1, dtype=torch.float32))[None, :].expand_as(m.A_log))
                m.D.fill_(1.0)
            model.backbone.norm_f.weight.fill_(1.0)
        assert model.lm_head.weight is model.backbone.embeddings.weight
    elif arch == "mamba2":
        # the authors' Mamba-2 init (mamba_ssm Mamba2 + MixerModel._init_weights): torch defaults for in_proj and the
        # conv, out_proj / sqrt(n_layer), -A uniform in [1, 16], Δ = softplus(dt_bias) log-uniform in [1e-3, 0.1]
        # (floor 1e-4), D = 1, norms 1, embeddings N(0, 0.02)
        model = C.Mamba2LM(mc)
        n_layer = mc["num_hidden_layers"]
        with torch.no_grad():
            torch.nn.init.normal_(model.backbone.embeddings.weight, std=0.02)
            for layer in model.backbone.layers:
                m = layer.mixer
                layer.norm.weight.fill_(1.0)
                m.in_proj.reset_parameters()
                m.out_proj.reset_parameters()
                m.conv1d.reset_parameters()
                m.out_proj.weight /= math.sqrt(n_layer)
                dt = torch.exp(torch.rand(m.h) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
                m.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
                m.A_log.copy_(torch.log(torch.empty(m.h).uniform_(1.0, 16.0)))
                m.D.fill_(1.0)
                m.norm.weight.fill_(1.0)
            model.backbone.norm_f.weight.fill_(1.0)
        assert model.lm_head.weight is model.backbone.embeddings.weight
    else:
        model = C.NeoXLM(mc)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "layernorm" in name or "layer_norm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    p.zero_()
                else:
                    torch.nn.init.normal_(p, std=0.02)
    return model


HF_CLASS = {"mamba": "MambaForCausalLM", "mamba2": "Mamba2ForCausalLM", "pythia": "GPTNeoXForCausalLM"}
HF_CONFIG = {"mamba": "MambaConfig", "mamba2": "Mamba2Config", "pythia": "GPTNeoXConfig"}
HF_MODEL_TYPE = {"mamba": "mamba", "mamba2": "mamba2", "pythia": "gpt_neox"}
# The transformers config of each arch: these model_config entries (same names), then the fixed settings below.
HF_SHAPE_KEYS = {
    "mamba": ("hidden_size", "state_size", "num_hidden_layers", "expand", "conv_kernel", "time_step_rank"),
    "mamba2": ("hidden_size", "num_heads", "head_dim", "n_groups", "state_size", "num_hidden_layers", "expand",
               "conv_kernel", "chunk_size", "time_step_limit", "use_bias", "use_conv_bias", "layer_norm_epsilon"),
    "pythia": ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
               "max_position_embeddings", "rope_parameters"),
}
_HF_IDS = {"initializer_range": 0.02, "bos_token_id": 0, "eos_token_id": 0}
_HF_SSM = {**_HF_IDS, "pad_token_id": 0, "hidden_act": "silu", "residual_in_fp32": True, "tie_word_embeddings": True}
HF_FIXED = {
    "mamba": {**_HF_SSM, "use_bias": False, "use_conv_bias": True, "layer_norm_epsilon": 1e-5},
    "mamba2": {**_HF_SSM, "rms_norm": True},
    "pythia": {**_HF_IDS, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "use_parallel_residual": True,
               "tie_word_embeddings": False, "attention_bias": True},
}


def hf_model(cfg, arch, vocab, dtype=torch.float32):
    """The transformers model of the same shape (for parity checks and export)."""
    import transformers

    mc = model_config(cfg, arch, vocab)
    kw = {"vocab_size": vocab, **{k: mc[k] for k in HF_SHAPE_KEYS[arch]}, **HF_FIXED[arch]}
    if "time_step_limit" in kw:
        kw["time_step_limit"] = tuple(kw["time_step_limit"])
    hc = getattr(transformers, HF_CONFIG[arch])(**kw)
    return getattr(transformers, HF_CLASS[arch])(hc).to(dtype)


def to_hf(model, cfg, arch, vocab, dtype=torch.float32):
    hf = hf_model(cfg, arch, vocab, dtype)
    sd = {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()}
    exp = set(hf.state_dict())
    # GPT-NeoX's head: `embed_out.weight` in our module (the hub's older name), `lm_head.weight` in transformers 5
    if "embed_out.weight" in sd and "embed_out.weight" not in exp and "lm_head.weight" in exp:
        sd["lm_head.weight"] = sd.pop("embed_out.weight")
    params = {n for n, _ in hf.named_parameters(remove_duplicate=False)}
    extra, missing = set(sd) - exp, exp - set(sd)
    # keys of ours that transformers lacks, or parameters of transformers that we lack (buffers keep their values)
    if extra - {"lm_head.weight"} or (missing & params) - {"lm_head.weight"}:
        raise AssertionError(f"{arch}: parameter names differ from transformers': extra {sorted(extra)}, missing {sorted(missing)}")
    hf.load_state_dict({k: v for k, v in sd.items() if k in exp}, strict=False)
    if arch in SSM:  # tied at construction; load_state_dict copies in place
        assert hf.lm_head.weight.data_ptr() == hf.backbone.embeddings.weight.data_ptr(), "lm_head not tied"
    return hf


# ============================================================================= scan selection (Mamba)
SCAN = {"name": "eager", "fn": None, "failed": None}


def select_scan(kind):
    """kind: eager | compile | triton | auto. triton: the chunked scan of tools/mamba_scan.py, used only if it matches
    lm_common's reference scan (forward and every gradient) here and now; auto = triton, else compile on CUDA, else
    eager. compile: torch.compile of lm_common's chunked scan (fuses its elementwise passes: 0.046 s/step vs 0.21
    eager in the last run). A failure in training later falls back one level (triton -> compile -> eager)."""
    if kind == "auto":
        kind = "triton" if DEV == "cuda" else "eager"
    if kind == "triton":
        try:
            import mamba_scan

            fn = mamba_scan.make_scan("triton", T=64, BD=16)
            t = time.time()
            errs = mamba_scan.check_against_reference(fn, [(2, 64, 256, 16), (1, 32, 2048, 16)], DEV, tol=1e-3)
            SCAN.update(name="triton", fn=fn, check=errs)
            log(f"scan: triton chunked scan matches the reference ({time.time() - t:.1f}s): {errs}")
            return "triton"
        except Exception as e:  # noqa: BLE001
            log(f"scan: triton chunked scan not used ({type(e).__name__}: {str(e)[:400]})")
            SCAN["failed"] = repr(e)[:800]
            kind = "compile" if DEV == "cuda" else "eager"
    if kind == "compile":
        import torch._dynamo as dynamo

        # one compile per training shape (4 lengths); room for more before dynamo would fall back to eager silently
        for knob in ("recompile_limit", "cache_size_limit"):
            if hasattr(dynamo.config, knob):
                setattr(dynamo.config, knob, 64)
        SCAN.update(name="compile", fn=torch.compile(C.selective_scan, dynamic=False))
    else:
        SCAN.update(name="eager", fn=None)
    return SCAN["name"]


def fallback_scan(e, where):
    """After a failure of the fast scan in training: one level down (triton -> compile -> eager)."""
    if SCAN["name"] == "eager":
        raise e
    nxt = "compile" if SCAN["name"] == "triton" and DEV == "cuda" else "eager"
    log(f"{SCAN['name']} scan failed {where} ({type(e).__name__}: {str(e)[:300]}); {nxt} from now on")
    SCAN["failed"] = repr(e)[:800]
    select_scan(nxt)


def scan_name(arch):
    """What runs the state space part of `arch` in training (for the logs)."""
    return {"mamba": SCAN["name"], "mamba2": "ssd_chunked"}.get(arch)


def eval_fast():
    """Evals use the Triton scan (exact, any length, no compiles); a compiled scan would compile every eval shape."""
    return SCAN["name"] == "triton"


def fwd(model, x, train_scan=True, collect=None):
    if model.arch == "mamba":
        return model(x, scan=SCAN["fn"] if train_scan else None, chunk=16, collect=collect)
    if model.arch == "mamba2":  # the chunked SSD (chunk_size of the config) in training, evals and checks alike
        return model(x, collect=collect)
    return model(x)


# ============================================================================= optimiser, schedule
def param_groups(model, wd):
    decay, no_decay, seen = [], [], set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        # no decay on A_log, D, dt_proj.bias / dt_bias, conv/linear biases, norms, embeddings (tied lm_head)
        if p.ndim < 2 or "A_log" in name or "embed" in name or "lm_head" in name or "norm" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model, cfg):
    kw = {"fused": True} if DEV == "cuda" else {}
    return torch.optim.AdamW(param_groups(model, cfg["wd"]), lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=1e-8, **kw)


def lr_at(cfg, step, total):
    """Warm-up, constant, then cosine decay over the last decay_frac of the run to final_lr_frac (WSD)."""
    peak = cfg["lr"]
    if step < cfg["warmup"]:
        return peak * (step + 1) / cfg["warmup"]
    d0 = int(total * (1 - cfg["decay_frac"]))
    if step < d0:
        return peak
    p = min(1.0, (step - d0) / max(1, total - d0))
    f = cfg["final_lr_frac"]
    return peak * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * p)))


# ============================================================================= evaluation
class Probes:
    """Fixed eval probes built once from the held-out stream (same for both models and every call)."""

    def __init__(self, cfg, tasks, held):
        ev = cfg["eval"]
        self.passkey = {}
        for L in ev["passkey_lengths"]:
            pr = self.build(tasks, held, "passkey", L, ev["passkey_n"], 11)
            if pr:
                self.passkey[L] = pr
        self.multikey = {}
        for k in ev["multikey_ks"]:
            pr = self.build(tasks, held, "multikey", ev["multikey_length"], ev["multikey_n"], 12, k=k)
            if pr:
                self.multikey[k] = pr
        self.copy = self.build(tasks, held, "copy", ev["copy_length"], ev["copy_n"], 13)
        self.delta_length = ev["delta_length"]
        # the skill stage's gate probes (the leader's decision): passkey at the gate lengths, their own seed
        sk = cfg.get("skill")
        self.gate = {L: self.build(tasks, held, "passkey", L, sk["gate_n"], 14) for L in sk["gate_lengths"]} if sk else {}

    @staticmethod
    def build(tasks, held, task, L, n, salt, **kw):
        """n probes of `task` at length L (seeded by salt, L, k); None if the task does not fit in L tokens."""
        rng = np.random.default_rng([salt, L, kw.get("k", 0)])
        try:
            return [getattr(tasks, task)(held, rng, L, with_answer=False, **kw) for _ in range(n)]
        except ValueError:
            return None


@torch.no_grad()
def score_probes(model, probes, autocast=True, delta=False, tokens_per_fwd=16384):
    """Teacher-forced exact match: the model's argmax at each answer position must be the answer token.
    first = the first informative answer token (the first digit; copy: the first token), rest = every answer token
    after it, exact = all of them. delta (Mamba): mean step size Δ over channels at needle tokens vs filler tokens
    (not needle, not the question at the end), per layer and over layers (Mamba-2: Δ per head, averaged over heads)."""
    L = len(probes[0]["prompt"]) + len(probes[0]["answer"])
    bs = max(1, tokens_per_fwd // L)
    first = rest = exact = 0
    d_sum = {"needle": 0.0, "filler": 0.0}
    d_cnt = {"needle": 0, "filler": 0}
    for i in range(0, len(probes), bs):
        group = probes[i : i + bs]
        x = torch.from_numpy(np.stack([np.concatenate([p["prompt"].ids, p["answer"]]) for p in group])).long().to(DEV)
        col = [] if delta else None
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=autocast and DEV == "cuda"):
            pred = fwd(model, x, train_scan=eval_fast(), collect=col).argmax(-1).cpu().numpy()
        for j, p in enumerate(group):
            s = len(p["prompt"])
            ok = pred[j, s - 1 : s - 1 + len(p["answer"])] == p["answer"]
            f = p["first"]
            first += int(ok[f])
            rest += int(ok[f + 1 :].all())
            exact += int(ok.all())
        if col:
            d = torch.stack(col, 0).float().cpu().numpy()  # (layers, B, L)
            needle = np.zeros(d.shape[1:], dtype=bool)
            for j, p in enumerate(group):
                for a, b in p["spans"]:
                    needle[j, a:b] = True
            filler = ~needle
            for j, p in enumerate(group):
                filler[j, len(p["prompt"]) - 16 :] = False  # the question and the answer
            for name, m in (("needle", needle), ("filler", filler)):
                d_sum[name] = d_sum[name] + d[:, m].sum(1)
                d_cnt[name] += int(m.sum())
    n = len(probes)
    out = {"first": round(first / n, 4), "rest": round(rest / n, 4), "exact": round(exact / n, 4), "n": n}
    if delta and d_cnt["needle"] and d_cnt["filler"]:
        mn, mf = d_sum["needle"] / d_cnt["needle"], d_sum["filler"] / d_cnt["filler"]
        out["delta_needle"] = [round(float(v), 5) for v in mn]
        out["delta_filler"] = [round(float(v), 5) for v in mf]
        out["delta_ratio_per_layer"] = [round(float(a / b), 3) for a, b in zip(mn, mf)]
        out["delta_ratio"] = round(float(mn.mean() / mf.mean()), 3)
    return out


def eval_now(model, probes, step):
    model.eval()
    t = time.time()
    res = {"step": step, "passkey": {}, "multikey": {}}
    for L, pr in probes.passkey.items():
        res["passkey"][str(L)] = score_probes(model, pr, delta=(model.arch in SSM and L == probes.delta_length))
    for k, pr in probes.multikey.items():
        res["multikey"][str(k)] = score_probes(model, pr)
    res["copy"] = score_probes(model, probes.copy) if probes.copy else None
    res["seconds"] = round(time.time() - t, 2)
    model.train()
    return res


@torch.no_grad()
def heldout_loss(model, stream, n, L, tokens_per_fwd=32768):
    rng = np.random.default_rng([99, L])
    bs = max(1, tokens_per_fwd // L)
    tot, cnt = 0.0, 0
    for i in range(0, n, bs):
        xs = [stream[o : o + L + 1] for o in rng.integers(0, len(stream) - L - 2, size=min(bs, n - i))]
        xb = torch.from_numpy(np.stack(xs)).long().to(DEV)
        logits = fwd(model, xb[:, :-1], train_scan=eval_fast()).float()
        tot += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction="sum"))
        cnt += xb[:, 1:].numel()
    return tot / cnt


def final_eval(model, cfg, tasks, held, quick=False):
    """Evaluation of the weights as shipped (float16-rounded, fp32 compute, our module = transformers' forward)."""
    fe = cfg["final_eval"]
    model.eval()
    t = time.time()
    res = {}
    for L, n in fe["heldout"]:
        res[f"heldout_loss_{L}"] = round(heldout_loss(model, held, max(2, n // (2 if quick else 1)), L), 4)
    nq = lambda n: max(2, n // 2) if quick else n  # noqa: E731
    res["passkey"] = {}
    for L in fe["passkey_lengths"]:
        pr = Probes.build(tasks, held, "passkey", L, nq(fe["passkey_n"]), 21)
        if pr:
            res["passkey"][str(L)] = score_probes(model, pr, autocast=False, delta=model.arch in SSM)
    res["multikey"] = {}
    for L, ks, n in fe["multikey"]:
        for k in ks:
            if k > len(tasks.words):
                continue
            pr = Probes.build(tasks, held, "multikey", L, nq(n), 22, k=k)
            if pr:
                res["multikey"][f"{L}/{k}"] = score_probes(model, pr, autocast=False)
    res["copy"] = {}
    for L, n in fe["copy"]:
        pr = Probes.build(tasks, held, "copy", L, nq(n), 23)
        if pr:
            res["copy"][str(L)] = score_probes(model, pr, autocast=False)
    res["seconds"] = round(time.time() - t, 1)
    model.train()
    return res


# ============================================================================= checks against transformers
@torch.no_grad()
def parity(model, cfg, arch, vocab, x):
    """Our forward vs transformers' own forward (fp32, TF32 off), and our bf16-autocast training forward vs that fp32
    reference. Returns the numbers; raises if the fp32 forwards differ."""
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    was = model.training
    model.eval()
    try:
        hf = to_hf(model, cfg, arch, vocab).to(DEV).eval()
        ref = hf(x, use_cache=False).logits.float()
        ours = fwd(model, x, train_scan=False).float()
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=DEV == "cuda"):  # the training forward's precision
            ours_bf16 = fwd(model, x, train_scan=False).float()  # (eager scan: the compiled one is the same fp32 math)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        model.train(was)
    scale = float(ref.abs().max())
    d32 = float((ours - ref).abs().max())
    db = (ours_bf16 - ref).abs()
    cen = ref - ref.mean(-1, keepdim=True)
    out = {
        "fp32_max_abs_diff": d32,
        "max_abs_logit": scale,
        "bf16_max_abs_diff": float(db.max()),
        "bf16_mean_abs_diff": float(db.mean()),
        "bf16_rel_rms": float(((ours_bf16 - ref - (ours_bf16 - ref).mean(-1, keepdim=True)).pow(2).mean().sqrt()) / cen.pow(2).mean().sqrt().clamp_min(1e-12)),
        "bf16_top1_agree": float((ours_bf16.argmax(-1) == ref.argmax(-1)).float().mean()),
    }
    if d32 > 1e-3 * max(1.0, scale):
        raise AssertionError(f"{arch}: our forward differs from transformers' by {d32:.3g} (max |logit| {scale:.3g})")
    if out["bf16_rel_rms"] > 0.1:
        raise AssertionError(f"{arch}: bf16 training forward is far from the fp32 reference: {out}")
    del hf
    return out


# ============================================================================= checkpoints
def full_ckpt_path(full_dir, arch):
    return os.path.join(full_dir, f"{arch}.pt")


def save_full(path, model, opt, state):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, tmp)
    os.replace(tmp, path)


def export_model(model, cfg, arch, tok, tok_path, out_dir, state, golden=True, strict=False):
    """The model folder the page loads: float16 safetensors (transformers' save_pretrained when available), config,
    tokenizer files, tokenizer_check.json, train_log.json and golden.json. Returns the f16-rounded state dict."""
    vocab = tok.get_vocab_size()
    tmp = out_dir.rstrip("/") + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        import transformers  # noqa: F401

        have_hf = True
    except ImportError:  # local CPU tests: same file layout, written without transformers
        have_hf = False
    if have_hf:
        hf = to_hf(model, cfg, arch, vocab, dtype=torch.float16)
        hf.save_pretrained(tmp)
        gc = os.path.join(tmp, "generation_config.json")
        if os.path.exists(gc):
            os.remove(gc)
        hc = C.read_json(os.path.join(tmp, "config.json"))
        hc["dtype"] = "float16"
        if "torch_dtype" in hc:
            hc["torch_dtype"] = "float16"
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(hc, f, indent=2, sort_keys=True)
            f.write("\n")
        keys = C.safetensors_keys(tmp)["model.safetensors"]
        assert all(v[0] == "F16" for v in keys.values()), "exported weights must be float16"
    else:
        sd = {k: v.detach().cpu().half().numpy() for k, v in model.state_dict().items()}
        if arch in SSM:  # tied head: not in the file, as save_pretrained writes it
            sd.pop("lm_head.weight")
        C.write_safetensors(sd, os.path.join(tmp, "model.safetensors"), {"format": "pt"})
        mc = model_config(cfg, arch, vocab)
        mc["architectures"] = [HF_CLASS[arch]]
        mc["model_type"] = HF_MODEL_TYPE[arch]
        mc["dtype"] = "float16"
        if "time_step_limit" in mc:  # infinity as transformers 5 writes it (plain JSON has none)
            mc["time_step_limit"] = [v if math.isfinite(v) else {"__float__": "Infinity"} for v in mc["time_step_limit"]]
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(mc, f, indent=2, sort_keys=True, allow_nan=False)
    shutil.copy(tok_path, os.path.join(tmp, "tokenizer.json"))
    C.save_tokenizer_config(tmp)
    write_json(tokenizer_check(tok), os.path.join(tmp, "tokenizer_check.json"))
    write_json(state, os.path.join(tmp, "train_log.json"))
    if golden and have_hf:
        try:
            C.dump_json(golden_for(tmp, arch, tok), os.path.join(tmp, "golden.json"))
        except Exception as e:  # noqa: BLE001  the weights matter more than the golden file
            if strict:
                raise
            log(f"{arch}: golden.json failed: {e!r}")
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def load_f16_weights(model, model_dir):
    """Compact resume: the float16 weights of an exported model folder into our (fp32) module."""
    sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in C.read_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
    if model.arch in SSM:
        sd.setdefault("lm_head.weight", sd["backbone.embeddings.weight"])
    elif "lm_head.weight" in sd:  # saved by transformers 5 (see to_hf)
        sd["embed_out.weight"] = sd.pop("lm_head.weight")
    model.load_state_dict(sd, strict=True)


# ============================================================================= tokenizer
TOKENIZER_CHECK_TEXTS = [
    "key 12345",
    " 71432",
    "0 1 2 3 4 5 6 7 8 9 10 99 100 2048 65536 1234567890",
    "3.14159 -42 1e-5 0x1F 12:30 2024-06-01 v1.2.3 $19.99 50% #7",
    passkey_needle_text(71432),
    passkey_needle_text(10000) + "Some filler text." + PASSKEY_QUESTION + " 10000.",
    fact_text("apple", 4821) + fact_text("umbrella", 1000) + fact_text("quartz", 9999),
    multikey_question("lantern") + " 7305.",
    "naïve café 東京 😀 ½ ² ٣ Ⅻ x²³ １２",
    "  two  spaces,\ttab and\nnewline 12\n\n 3",
]


def tokenizer_check(tok):
    return {
        "about": "Python tokenizers' ids for these texts (tools/train_demo.py); tests/hub/demo-tokenizer.test.ts "
        "encodes them with the page's tokenizer and expects the same ids",
        "cases": [{"text": t, "ids": tok.encode(t).ids} for t in TOKENIZER_CHECK_TEXTS],
    }


def check_digit_split(tok):
    ids = tok.encode(" 71432").ids
    toks = [tok.id_to_token(i) for i in ids]
    assert toks[-5:] == list("71432"), f"digits must be one token each: {toks}"


def load_tokenizer(path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


GOLDEN_PROMPT = (
    "The pass key is 71432. Remember it. 71432 is the pass key. In the beginning God created "
    "the heaven and the earth. What is the pass key? The pass key is"
)


@torch.no_grad()
def golden_for(out_dir, arch, tok):
    from transformers import GPTNeoXForCausalLM, MambaForCausalLM

    if arch == "mamba":
        m = MambaForCausalLM.from_pretrained(out_dir)
    elif arch == "mamba2":
        from transformers import Mamba2ForCausalLM

        m = Mamba2ForCausalLM.from_pretrained(out_dir)
    else:
        m = GPTNeoXForCausalLM.from_pretrained(out_dir, attn_implementation="eager")
    m = m.to(torch.float64).eval()
    ids = tok.encode(GOLDEN_PROMPT).ids
    logits = C.hf_forward(m, arch, torch.tensor([ids]), use_cache=False)[0][0]
    assert logits.dtype == torch.float64
    seq, greedy = list(ids), []
    for _ in range(8):
        t = int(C.hf_forward(m, arch, torch.tensor([seq]), use_cache=False)[0][0, -1].argmax())
        greedy.append(t)
        seq.append(t)
    checks = {}
    if arch == "mamba":
        ref = C.mamba_logits_fast(m, torch.tensor([ids]))[0]
        checks["max_abs_diff_vs_independent_impl"] = float((ref - logits).abs().max())
    elif arch == "mamba2":  # our module (chunked SSD, group-wise gated norm) on the saved weights, float64
        ours = C.Mamba2LM(m.config.to_dict()).to(torch.float64).eval()
        sd = {k: v.to(torch.float64) for k, v in m.state_dict().items()}
        sd.setdefault("lm_head.weight", sd["backbone.embeddings.weight"])
        missing, unexpected = ours.load_state_dict(sd, strict=False)
        if missing or unexpected:
            checks["independent_impl_keys"] = {"missing": missing, "unexpected": unexpected}
        else:
            ref = ours(torch.tensor([ids]))[0]
            checks["max_abs_diff_vs_independent_impl"] = float((ref - logits).abs().max())
    L = len(ids)
    return {
        "format": "mamba-vs-transformer golden v1 (demo)",
        "model": os.path.basename(out_dir.rstrip("/")).replace(".tmp", ""),
        "weights_dtype": "float16",
        "reference_dtype": "float64",
        "vocab_size": m.config.vocab_size,
        "prompt_text": GOLDEN_PROMPT,
        "prompt_ids": ids,
        "positions": [L - 3, L - 2, L - 1],
        "logits_shape": [3, m.config.vocab_size],
        "logits": C.r7(logits[-3:].flatten().tolist()),
        "greedy_ids": greedy,
        "greedy_text": tok.decode(greedy),
        "tokenizer_cases": C.tokenizer_cases(tok),
        "checks": checks,
    }


# ============================================================================= data context
class Data:
    def __init__(self, cfg, corpus, tok, like=None):
        train_docs, held_docs = load_corpus(corpus, cfg["heldout_frac"])
        if like is not None:  # same corpus and tokenizer: reuse the token streams
            self.train, self.held = like.train, like.held
        else:
            self.train = encode_stream(tok, train_docs)
            self.held = encode_stream(tok, held_docs)
        self.tasks = Tasks(tok, multikey_words(), cfg["answer_weight"], cfg["multikey_max"], cfg["passkey_digits"])
        self.n_train_docs, self.n_held_docs = len(train_docs), len(held_docs)
        self.chars = sum(map(len, train_docs))
        fe = cfg["final_eval"]
        longest = max([*fe["passkey_lengths"], *(L for L, _ in fe["heldout"]), *(L for L, _, _ in fe["multikey"]),
                       *cfg["eval"]["passkey_lengths"], cfg["eval"]["multikey_length"]])
        if len(self.held) < 2 * longest or len(self.train) < 4 * cfg["tokens_per_step"]:
            raise SystemExit(f"corpus too small: {len(self.train)} training / {len(self.held)} held-out tokens")


def train_tokenizer(cfg, corpus):
    train_docs, _ = load_corpus(corpus, cfg["heldout_frac"])
    total = max(1, sum(map(len, train_docs)))
    sample = [d for i, d in enumerate(train_docs) if stable_frac(f"tok:{i}") < cfg["tok_sample_chars"] / total]
    tok = C.train_bpe_tokenizer(sample, vocab_size=cfg["vocab"], split_digits=True)
    check_digit_split(tok)
    return tok


# ============================================================================= training
class Trainer:
    """One model's training state: model, optimizer, schedule, logs; runs steps until a target or a deadline."""

    def __init__(self, cfg, arch, data, vocab, state, gate=None):
        self.cfg, self.arch, self.data = cfg, arch, data
        self.gate = gate  # the skill stage's gate (tools/skill_gate.py), None for a run without a skill stage
        self.model = build_model(cfg, arch, vocab).to(DEV)
        self.model.train()
        self.opt = make_optimizer(self.model, cfg)
        self.state = state  # json-able: step, plan, curve, evals, stages, ...
        self.rewarm_from = None
        self.ignore_stop = False  # --ignore-stop: the stop rule neither ends an earlier stop nor fires again
        self.init_ref = {k: v.detach().clone() for k, v in self.model.state_dict().items() if self._tracked(k)}
        self.task_idx = torch.arange(len(TASKS), device=DEV)

    DRIFT_KEYS = ("A_log", "dt_proj.bias", "dt_bias", ".D")  # Mamba: dt_proj.bias; Mamba-2: dt_bias

    @classmethod
    def _tracked(cls, name):
        return any(name.endswith(k) for k in cls.DRIFT_KEYS)

    def drift(self):
        """Mean |change| of A_log, dt_proj.bias (Mamba-2: dt_bias), D since initialisation (they barely moved in the
        previous run)."""
        sd = self.model.state_dict()
        out = {}
        for key in self.DRIFT_KEYS:
            ks = [k for k in self.init_ref if k.endswith(key)]
            if ks:
                out[key.strip(".")] = round(float(np.mean([float((sd[k] - self.init_ref[k].to(sd[k].device)).abs().mean()) for k in ks])), 5)
        return out

    def skill_end(self):
        """G, the first main step: 0 without a skill stage, None while the leader has not decided it."""
        return 0 if self.gate is None else self.gate.end()

    def offset(self):
        """Steps before the main stage: G, or its upper bound (skill.max_steps) while undecided."""
        g = self.skill_end()
        return self.cfg["skill"]["max_steps"] if g is None else g

    def total(self):
        """Steps of the whole run: the skill stage's + the plan's total_steps (the main stage's)."""
        return self.offset() + self.state["plan"]["total_steps"]

    def check_gate(self, step, probes):
        """The leader at a check step: its passkey exact match on the gate probes decides whether the skill stage
        ends here (Gate.decide)."""
        self.model.eval()
        exact = {L: score_probes(self.model, pr)["exact"] for L, pr in probes.gate.items() if pr}
        self.model.train()
        end = self.gate.decide(step, exact)
        if end is not None:
            log(f"{self.arch}: the skill stage ends at step {end} ({self.gate.read().get('reason')}; passkey exact {exact})")
        elif step % (10 * self.gate.skill["every"]) == 0:
            log(f"{self.arch}: skill stage goes on at step {step} (passkey exact {exact})")

    def next_batch(self, step, probes, deadline):
        """The batch of `step`, or None when a follower reached the deadline waiting for the leader's decision."""
        main = self.state["plan"]["total_steps"]
        if self.gate is None:
            return make_batch(self.cfg, self.data.tasks, self.data.train, step, main)
        if self.gate.due(step):
            self.check_gate(step, probes)
        stage = self.gate.stage(step)
        if stage is None:
            if self.gate.leader:
                raise RuntimeError(f"{self.arch}: the leader has no skill-stage decision for step {step}")
            stage = self.gate.wait(step, deadline, log=lambda m: log(f"{self.arch}: {m}"))
            if stage is None:
                return None
        return run_batch(self.cfg, self.data.tasks, self.data.train, step, main, stage, self.gate.end())

    def lr(self, step):
        lr = lr_at(self.cfg, step, self.total())
        if self.rewarm_from is not None and step - self.rewarm_from < self.cfg["rewarm"]:
            lr *= (step - self.rewarm_from + 1) / self.cfg["rewarm"]
        return lr

    def step(self, batch, step):
        cfg = self.cfg
        lr = self.lr(step)
        for g in self.opt.param_groups:
            g["lr"] = lr
        def dev(a):  # pinned, so the copy does not wait for the GPU to drain
            t = torch.from_numpy(a)
            return t.pin_memory().to(DEV, non_blocking=True) if DEV == "cuda" else t

        ids, w, ans, task = dev(batch["ids"]), dev(batch["w"]), dev(batch["ans"]), dev(batch["task"])
        B, L = w.shape
        mb = max(1, min(B, cfg["micro_tokens"][self.arch] // L))
        n_tok = B * L
        # loss | lm ce sum, lm count (weight-1 tokens) | per task: answer ce sum, answer count
        stats = torch.zeros(3 + 2 * len(TASKS), device=DEV)
        for s in range(0, B, mb):
            x, y = ids[s : s + mb, :-1], ids[s : s + mb, 1:]
            with torch.autocast(DEV, dtype=torch.bfloat16, enabled=DEV == "cuda"):
                logits = fwd(self.model, x)
            ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
            ww = w[s : s + mb]
            loss = (ce * ww).sum() / n_tok
            loss.backward()
            with torch.no_grad():
                a = ans[s : s + mb].float()
                onehot = (task[s : s + mb, None] == self.task_idx[None, :]).float()  # (mb, T)
                lm = (ww == 1).float()
                stats[0] += loss.detach()
                stats[1] += (ce * lm).sum()
                stats[2] += lm.sum()
                stats[3::2] += ((ce * a).sum(1)[:, None] * onehot).sum(0)
                stats[4::2] += (a.sum(1)[:, None] * onehot).sum(0)
        gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg["clip"])
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return stats, gn, lr

    def safe_step(self, batch, step):
        try:
            return self.step(batch, step)
        except Exception as e:  # noqa: BLE001  e.g. a torch.compile failure at a new shape
            if self.arch != "mamba":
                raise
            fallback_scan(e, f"at step {step}, L={batch['L']}")
            self.opt.zero_grad(set_to_none=True)
            return self.step(batch, step)

    def run(self, target, stop_at, probes, label=""):
        """Train from state['step'] to `target` (the step counter ends at target; a callable: re-read every step, as
        a run's end moves when the skill stage ends) or until time.time() passes stop_at. Logs every log_every
        steps, evaluates every eval_every steps."""
        cfg, st = self.cfg, self.state
        target_now = target if callable(target) else (lambda: target)
        t0, s0 = time.time(), st["step"]
        acc, acc_gn, acc_n, L_hist = None, 0.0, 0, {}
        stopped = None
        batch = self.next_batch(st["step"], probes, stop_at) if st["step"] < target_now() else None
        if batch is None and st["step"] < target_now():
            stopped = "deadline (waiting for the skill stage's end)"
        while batch is not None and st["step"] < target_now():
            step = st["step"]
            stats, gn, lr = self.safe_step(batch, step)
            st["step"] = step + 1
            L_done = batch["L"]
            L_hist[L_done] = L_hist.get(L_done, 0) + 1
            if st["step"] < target_now():  # build the next batch while the GPU works
                batch = self.next_batch(st["step"], probes, stop_at)
                if batch is None:
                    stopped = "deadline (waiting for the skill stage's end)"
            N = self.total()
            acc = stats if acc is None else acc + stats
            acc_gn += gn.detach() if torch.is_tensor(gn) else gn
            acc_n += 1
            done = st["step"] >= target_now() or time.time() > stop_at or batch is None  # the last step of this call
            if st["step"] % cfg["log_every"] == 0 or done or step < 2:
                v = acc.tolist()
                ans = {t: round(v[3 + 2 * i] / v[4 + 2 * i], 4) for i, t in enumerate(TASKS) if v[4 + 2 * i] > 0}
                entry = {
                    "step": st["step"],
                    "loss": round(v[0] / acc_n, 4),
                    "lm_loss": round(v[1] / max(1.0, v[2]), 4),
                    "answer_loss": ans,
                    "lr": lr,
                    "grad_norm": round(float(acc_gn) / acc_n, 4),
                    "L": L_done,
                    "t": round(time.time() - T_START, 1),
                }
                if self.gate is not None:  # the stage of the last step of this entry
                    g = self.skill_end()
                    entry["stage"] = "skill" if g is None or step < g else "main"
                st["curve"].append(entry)
                if not math.isfinite(entry["loss"]):
                    raise RuntimeError(f"{self.arch}: loss is not finite at step {st['step']}")
                if st["step"] % (cfg["log_every"] * 10) == 0 or step < 2 or done:
                    log(f"{label}{self.arch} step {st['step']}/{N} loss {entry['loss']:.4f} lm {entry['lm_loss']:.4f} "
                        f"ans {ans} lr {lr:.2e} gn {entry['grad_norm']:.2f}")
                acc, acc_gn, acc_n = None, 0.0, 0
            if st["step"] % cfg["eval_every"] == 0 or done:
                ev = eval_now(self.model, probes, st["step"])
                ev["drift"] = self.drift() if self.arch in SSM else None
                st["evals"].append(ev)
                pk = {L: (r["first"], r["rest"]) for L, r in ev["passkey"].items()}
                mk = {k: r["exact"] for k, r in ev["multikey"].items()}
                dl = ev["passkey"].get(str(probes.delta_length), {})
                extra = f" Δ needle/filler {dl.get('delta_ratio')}" if self.arch in SSM else ""
                log(f"{label}{self.arch} eval @{st['step']}: passkey (first, rest) {pk} multikey {mk} copy {(ev['copy'] or {}).get('exact')}{extra} ({ev['seconds']}s)")
                reason = None if self.ignore_stop else self.stop_rule()
                if reason:
                    st["stopped_by_rule"] = {"step": st["step"], "reason": reason}
                    log(f"{self.arch}: stop rule: {reason}")
                    stopped = "stop rule"
                    break
            if batch is None:
                log(f"{label}{self.arch}: {stopped} at step {st['step']}")
                break
            if st["step"] < target_now() and time.time() > stop_at:
                stopped = "deadline"
                log(f"{label}{self.arch}: deadline reached at step {st['step']} (target {target_now()})")
                break
        sync()
        secs = time.time() - t0
        return {"from": s0, "to": st["step"], "target": target_now(), "seconds": round(secs, 1),
                "steps_per_s": round((st["step"] - s0) / max(secs, 1e-9), 3), "stopped": stopped,
                "lengths": {str(k): v for k, v in sorted(L_hist.items())}, "scan": scan_name(self.arch)}

    def stop_rule(self):
        """Judged on the main stage only (its evals, from min_frac of its steps on): the skill stage is the lookup
        being taught on short rows, not the recipe failing."""
        sr, st = self.cfg["stop_rule"], self.state
        g = self.skill_end() if getattr(self, "gate", None) is not None else 0
        if g is None:
            return None
        evals = [ev for ev in st["evals"] if ev.get("step", math.inf) > g]
        if st["step"] < g + sr["min_frac"] * st["plan"]["total_steps"] or len(evals) < sr["window"]:
            return None
        vals = []
        for ev in evals[-sr["window"] :]:
            fs = [ev["passkey"][str(L)]["first"] for L in sr["lengths"] if str(L) in ev["passkey"]]
            vals.append(float(np.mean(fs)) if fs else 0.0)
        # flat = the newer half of the window is not above the older half by more than delta. (The first rule,
        # max - min <= delta, could not fire at chance level: with 24 probes per length an eval's accuracy
        # scatters by ~0.05, so six evals of a model stuck near 0.1 always spanned more than 0.02. On the H200 run
        # demo-mamba sat at chance for all 2964 steps and was never stopped; this rule stops it at step 2100.)
        h = len(vals) // 2
        gain = float(np.mean(vals[-h:]) - np.mean(vals[:h]))
        if gain <= sr["delta"] and max(vals) < sr["below"]:
            return (f"passkey first-token accuracy flat at {[round(v, 3) for v in vals]} over the last {sr['window']} "
                    f"evals (newer half - older half = {gain:+.3f})")
        return None


# ============================================================================= subcommands
def settings_for(a):
    return SMOKE if a.smoke else FULL


def parse_archs(s):
    archs = [x for x in (s or "").replace(",", " ").split() if x]
    bad = [x for x in archs if x not in ARCHS]
    if bad or not archs or len(set(archs)) != len(archs):
        raise SystemExit(f"--archs: a list of distinct models from {', '.join(ARCHS)} (got {s!r})")
    return [x for x in ARCHS if x in archs]  # a fixed order: logs and plans read the same every time


def check_and_time(a, cfg, archs, data, vocab):
    """Full size: parameter counts, parity with transformers (unless --no-hf), step times on the first stage's shape.
    Returns (params, checks, timing) keyed by arch."""
    timing, checks, params = {}, {}, {}
    for arch in archs:
        st = {"step": 0, "plan": {"total_steps": 10**6}, "curve": [], "evals": []}
        tr = Trainer(cfg, arch, data, vocab, st)
        params[arch] = C.count_params(tr.model)
        x = torch.from_numpy(np.stack([data.held[i * 600 : i * 600 + 512] for i in range(2)])).long().to(DEV)
        if not a.no_hf:
            checks[arch] = parity(tr.model, cfg, arch, vocab, x)
            log(f"{arch}: {params[arch]} params; parity with transformers (init): {checks[arch]}")
        else:
            log(f"{arch}: {params[arch]} params")
        times = []
        L0 = cfg["curriculum"][0][1][0]
        batch = make_batch(cfg, data.tasks, data.train, 0, 10**6)
        assert batch["L"] == L0
        for i in range(a.time_steps):
            sync()
            t = time.time()
            tr.safe_step(batch, 10**6 // 2)  # a step at peak lr on the first-stage shape
            sync()
            times.append(time.time() - t)
        timing[arch] = {"first": round(times[0], 3), "median_after_3": round(float(np.median(times[3:])) if len(times) > 3 else times[-1], 4)}
        if DEV == "cuda":
            timing[arch]["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            torch.cuda.reset_peak_memory_stats()
        log(f"{arch}: step times {timing[arch]}")
        del tr
        if DEV == "cuda":
            torch.cuda.empty_cache()
    return params, checks, timing


def call_windows(a, archs):
    """Seconds of training in the first call (this one: what is left of it) and in each later call. The processes
    of one call share the GPU, so a step of the run costs the sum of their step times."""
    # torch.compile of the scan: one compile per new training shape (3 more in call 1, 4 in a cold later call)
    comp = a.compile_overhead if "mamba" in archs and SCAN["name"] == "compile" else 0.0
    w1 = a.deadline_epoch - time.time() - a.startup_s - a.export_reserve - comp
    wk = a.call_budget - a.startup_s - a.export_reserve - a.later_call_overhead - 1.5 * comp
    return max(0.0, w1), wk


def prepare_plan_dirs(a):
    os.makedirs(a.full_dir, exist_ok=True)
    os.makedirs(a.ckpt_dir, exist_ok=True)
    device = torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu"
    log(f"torch {torch.__version__}, device {device}")
    info = {"device": device, "torch": torch.__version__}
    try:
        import tokenizers
        import transformers

        info.update(transformers=transformers.__version__, tokenizers=tokenizers.__version__)
    except ImportError:
        pass
    return info


def cmd_plan(a):
    """Stage 1: tokenizer, smoke of every code path, parity checks, timing -> plan.json (+ tokenizer.json)."""
    archs = parse_archs(a.archs)
    if a.join:
        return cmd_join(a, archs)
    cfg = json.loads(json.dumps(settings_for(a)))
    info = prepare_plan_dirs(a)
    for d in (a.full_dir, a.ckpt_dir):  # a new run: an earlier run's skill-stage decision must not leak into it
        if os.path.exists(os.path.join(d, "gate.json")):
            os.remove(os.path.join(d, "gate.json"))
    sk = cfg.get("skill")
    if sk and sk["leader"] not in archs:
        raise SystemExit(f"the skill stage's leader {sk['leader']} must be a model of the run (--archs {a.archs})")
    tok_path = os.path.join(a.ckpt_dir, "tokenizer.json")
    if a.tokenizer and a.tokenizer != "train" and not a.smoke and os.path.exists(a.tokenizer):
        # the shipped tokenizer, byte for byte (v5: unchanged, the toy showed no need to change it)
        shutil.copy(a.tokenizer, tok_path)
        tok = load_tokenizer(tok_path)
        check_digit_split(tok)
        assert tok.get_vocab_size() == cfg["vocab"], (tok.get_vocab_size(), cfg["vocab"])
        log(f"tokenizer: {a.tokenizer} (reused)")
    else:
        tok = train_tokenizer(cfg, a.corpus)
        tok.save(tok_path)
    shutil.copy(tok_path, os.path.join(a.full_dir, "tokenizer.json"))
    log(f"tokenizer: vocab {tok.get_vocab_size()}, ' 71432' -> {[tok.id_to_token(i) for i in tok.encode(' 71432').ids]}")
    data = Data(cfg, a.corpus, tok)
    log(f"tokens: train {len(data.train)}, held-out {len(data.held)}; chars/token {data.chars / len(data.train):.2f}")
    if "mamba" in archs:
        info["scan"] = select_scan(a.scan)
        info["scan_check"] = SCAN.get("check")
        info["scan_failed"] = SCAN.get("failed")
    if not a.no_smoke:
        info["smoke"] = smoke(a, tok, tok_path, data, archs)
    vocab = tok.get_vocab_size()
    # full-size checks and timing
    params, checks, timing = check_and_time(a, cfg, archs, data, vocab)
    t_pair = sum(timing[arch]["median_after_3"] for arch in archs)
    # seconds of training per call: the first has the plan's time off; later calls their start-up (compiles)
    w1, wk = call_windows(a, archs)
    budget = w1 + (a.calls - 1) * wk
    # as many steps as the calls allow, at most --max-steps (the corpus is 6 M tokens: past ~100 M tokens more epochs
    # buy little); each call goes as far as it can, so a run that fits in fewer calls needs fewer
    total = a.total_steps or max(20, min(a.max_steps, int(a.safety * budget / t_pair)))
    cum = np.cumsum([w1] + [wk] * (a.calls - 1)) * a.safety / t_pair
    targets = [int(min(total, c)) for c in cum]
    if a.total_steps:  # fixed total (tests): spread over the calls in proportion to their time
        targets = [min(total, int(total * (w1 + k * wk) / budget)) for k in range(a.calls)]
    targets[-1] = total
    plan = {
        "total_steps": total,
        "targets": targets,
        "calls": a.calls,
        "archs": archs,
        "settings": cfg,
        "params": params,
        "timing": timing,
        "pair_step_s": round(t_pair, 4),  # the summed step time of the run's models (the name is from the pair)
        "budget_s": round(budget, 1),
        "checks_init": checks,
        "tokenizer_sha256": sha256_file(tok_path),
        "corpus_sha256": sha256_file(a.corpus),
        "train_stream_tokens": int(len(data.train)),
        "heldout_stream_tokens": int(len(data.held)),
        "chars_per_token": round(data.chars / len(data.train), 3),
        "info": info,
        "made_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_plan(a, plan)
    log(f"plan: {total} steps ({total * cfg['tokens_per_step'] / 1e6:.1f} M tokens) for {', '.join(archs)}, call targets "
        f"{targets}, step of the run {t_pair:.3f}s, budget {budget:.0f}s")


def write_plan(a, plan):
    write_json(plan, os.path.join(a.ckpt_dir, "plan.json"))
    shutil.copy(os.path.join(a.ckpt_dir, "plan.json"), os.path.join(a.full_dir, "plan.json"))


def find_plan(a):
    for d in (a.full_dir, a.ckpt_dir):
        p = os.path.join(d, "plan.json")
        if os.path.exists(p):
            return p
    return None


def cmd_join(a, archs):
    """plan --join: `archs` join the existing plan. Kept: settings (the recipe), tokenizer, corpus, total steps, and
    so every batch (a function of seed, step and total steps). Added: each joining model's own settings where the plan
    has none (a plan made before the model existed), its smoke run, parity checks, timing, and its own per-call step
    targets for the calls it trains alone or with the other joining models (arch_targets)."""
    plan_path = find_plan(a)
    if plan_path is None:
        raise SystemExit(f"plan --join: no plan.json in {a.full_dir} or {a.ckpt_dir}: carry .ckpt of the run to join "
                         "(unpack its <arch>.tgz.* in the repo root first)")
    plan = C.read_json(plan_path)
    if a.total_steps and a.total_steps != plan["total_steps"]:
        raise SystemExit(f"plan --join keeps the plan's {plan['total_steps']} steps (the batches depend on it); "
                         f"drop --total-steps {a.total_steps}")
    cfg = plan["settings"]
    base = settings_for(a)
    for arch in archs:
        if arch not in cfg:
            cfg[arch] = json.loads(json.dumps(base[arch]))
        cfg["micro_tokens"].setdefault(arch, base["micro_tokens"][arch])
    info = prepare_plan_dirs(a)
    tok_path = next((p for p in (os.path.join(a.ckpt_dir, "tokenizer.json"), os.path.join(a.full_dir, "tokenizer.json"))
                     if os.path.exists(p) and sha256_file(p) == plan["tokenizer_sha256"]), None)
    if tok_path is None:
        raise SystemExit(f"plan --join: the plan's tokenizer.json (sha256 {plan['tokenizer_sha256'][:12]}…) is not in "
                         f"{a.ckpt_dir} or {a.full_dir}")
    if sha256_file(a.corpus) != plan["corpus_sha256"]:
        raise SystemExit(f"{a.corpus} is not the corpus of the plan (sha256 differs)")
    for d in (a.ckpt_dir, a.full_dir):
        dst = os.path.join(d, "tokenizer.json")
        if os.path.abspath(dst) != os.path.abspath(tok_path):
            shutil.copy(tok_path, dst)
    tok = load_tokenizer(tok_path)
    data = Data(cfg, a.corpus, tok)
    log(f"join {', '.join(archs)} to the plan of {plan.get('made_at')} ({plan['total_steps']} steps, "
        f"models {', '.join(plan.get('archs', PAIR))})")
    if "mamba" in archs:
        info["scan"] = select_scan(a.scan)
        info["scan_check"] = SCAN.get("check")
    if not a.no_smoke:
        info["smoke"] = smoke(a, tok, tok_path, data, archs)
    params, checks, timing = check_and_time(a, cfg, archs, data, vocab=tok.get_vocab_size())
    t_join = sum(timing[arch]["median_after_3"] for arch in archs)
    w1, wk = call_windows(a, archs)
    total = plan["total_steps"]
    cum = np.cumsum([w1] + [wk] * (a.calls - 1)) * a.safety / t_join
    targets = [int(min(total, c)) for c in cum]
    targets[-1] = total
    plan["settings"] = cfg
    for key, val in (("params", params), ("timing", timing), ("checks_init", checks)):
        plan.setdefault(key, {}).update(val)
    plan.setdefault("arch_targets", {}).update({arch: targets for arch in archs})
    plan.setdefault("archs", list(PAIR))
    plan["archs"] = [x for x in ARCHS if x in set(plan["archs"]) | set(archs)]
    plan.setdefault("joined", []).append({"archs": archs, "step_s": round(t_join, 4), "targets": targets,
                                          "calls": a.calls, "info": info, "made_at": time.strftime("%Y-%m-%d %H:%M:%S")})
    write_plan(a, plan)
    log(f"joined: {', '.join(archs)} train the plan's {total} steps, call targets {targets} "
        f"(step {t_join:.3f}s, {plan['params']})")


def smoke(a, tok, tok_path, like=None, archs=PAIR):
    """Every code path on tiny models of `archs` in seconds: train, eval, full checkpoint + exact resume, export
    (+ golden), compact resume. Raises on any problem."""
    t = time.time()
    cfg = json.loads(json.dumps(SMOKE))
    data = Data(cfg, a.corpus, tok, like=like)
    vocab = tok.get_vocab_size()
    root = os.path.join(a.full_dir, "smoke")
    scan = dict(SCAN)
    if SCAN["name"] == "compile":
        SCAN.update(name="eager", fn=None)  # no compiles for the tiny shapes; the full-size timing compiles
    if os.path.exists(root):
        shutil.rmtree(root)
    out = {}
    for arch in archs:
        plan = {"total_steps": 8}
        mk = lambda: {"step": 0, "plan": plan, "curve": [], "evals": [], "stages": []}  # noqa: E731
        probes = Probes(cfg, data.tasks, data.held)
        # each model leads its own skill stage here (its own gate folder): max_steps 4, decided at steps 2 and 4
        gate = Gate(cfg["skill"], [os.path.join(root, f"gate-{arch}")], leader=True)
        tr = Trainer(cfg, arch, data, vocab, mk(), gate)
        tr.run(4, time.time() + 600, probes, label="smoke ")
        path = full_ckpt_path(root, arch)
        save_full(path, tr.model, tr.opt, tr.state)
        tr.run(8, time.time() + 600, probes, label="smoke ")
        assert gate.end() == cfg["skill"]["max_steps"], f"{arch}: smoke skill stage ended at {gate.end()}"
        straight = {k: v.detach().clone() for k, v in tr.model.state_dict().items()}
        tr2 = resume_trainer(cfg, arch, data, vocab, path, None, None, gate)
        assert tr2.state["step"] == 4
        tr2.run(8, time.time() + 600, probes, label="smoke ")
        diffs = [(tr2.model.state_dict()[k] - v).abs() for k, v in straight.items()]
        diff = max(float(d.max()) for d in diffs)
        mean = float(sum(d.sum() for d in diffs) / sum(d.numel() for d in diffs))
        out[f"{arch}_resume_max_abs_diff"] = diff
        out[f"{arch}_resume_mean_abs_diff"] = mean
        log(f"smoke {arch}: full resume vs straight run: max |Δw| {diff:.2e}, mean {mean:.2e}")
        # CPU: identical; GPU: only the nondeterminism of atomics (Adam can turn a tiny gradient into a whole lr step)
        assert mean < 1e-4, f"{arch}: full resume does not continue the run (mean |Δw| {mean})"
        md = os.path.join(root, f"demo-{arch}")
        ev = final_eval(tr2.model, cfg, data.tasks, data.held, quick=True)
        export_model(tr2.model, cfg, arch, tok, tok_path, md, {**tr2.state, "eval": ev}, golden=not a.no_hf, strict=True)
        if not a.no_hf:
            assert os.path.exists(os.path.join(md, "golden.json"))
        tr3 = resume_trainer(cfg, arch, data, vocab, None, md, tr2.state, gate)
        assert tr3.rewarm_from == 8
        diff16 = max(float((tr3.model.state_dict()[k] - v.half().float()).abs().max()) for k, v in tr2.model.state_dict().items())
        assert diff16 == 0.0, f"{arch}: compact resume did not load the exported f16 weights ({diff16})"
        tr3.state["plan"] = {"total_steps": 10}
        tr3.run(10, time.time() + 600, probes, label="smoke ")
        out[f"{arch}_files"] = sorted(os.listdir(md))
    SCAN.update(scan)
    out["seconds"] = round(time.time() - t, 1)
    log(f"smoke passed: {out}")
    return out


def resume_trainer(cfg, arch, data, vocab, full_path, model_dir, state, gate=None):
    """full_path: an exact resume (weights, optimizer, state). Else model_dir + state: the float16 weights, a fresh
    optimizer re-warmed over cfg['rewarm'] steps."""
    if full_path:
        ck = torch.load(full_path, map_location="cpu", weights_only=False)
        tr = Trainer(cfg, arch, data, vocab, ck["state"], gate)
        tr.model.load_state_dict(ck["model"])
        tr.opt.load_state_dict(ck["opt"])
        tr.rewarm_from = ck["state"].get("rewarm_from")
        return tr
    st = json.loads(json.dumps(state))
    tr = Trainer(cfg, arch, data, vocab, st, gate)
    load_f16_weights(tr.model, model_dir)
    tr.opt = make_optimizer(tr.model, cfg)
    tr.rewarm_from = st["step"]
    st["rewarm_from"] = st["step"]
    return tr


def cmd_train(a):
    plan_path = os.path.join(a.full_dir, "plan.json")
    if not os.path.exists(plan_path):
        plan_path = os.path.join(a.ckpt_dir, "plan.json")
    if not os.path.exists(plan_path):
        raise SystemExit(f"no plan: run `{sys.argv[0]} plan` first (stage 1), or carry .ckpt/ from the last call")
    plan = C.read_json(plan_path)
    cfg = plan["settings"]
    arch = a.arch
    if arch not in cfg or arch not in plan.get("params", {}):
        raise SystemExit(f"{arch} is not a model of the plan ({', '.join(plan.get('archs', PAIR))}): make one with "
                         f"`plan --archs ...,{arch}` or join this one with `plan --join --archs {arch}`")
    # this model's step targets per call: its own when it joined the plan, else the plan's
    call_targets = plan.get("arch_targets", {}).get(arch, plan["targets"])
    tok_path = next((p for p in (os.path.join(a.full_dir, "tokenizer.json"), os.path.join(a.ckpt_dir, "tokenizer.json"),
                                 os.path.join(a.models, f"demo-{arch}", "tokenizer.json")) if os.path.exists(p)), None)
    if tok_path is None or sha256_file(tok_path) != plan["tokenizer_sha256"]:
        raise SystemExit(f"tokenizer.json of the plan not found (looked in {a.full_dir}, {a.ckpt_dir}, {a.models})")
    tok = load_tokenizer(tok_path)
    if sha256_file(a.corpus) != plan["corpus_sha256"]:
        raise SystemExit(f"{a.corpus} is not the corpus of the plan (sha256 differs)")
    device = torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu"
    if arch == "mamba":
        select_scan(a.scan)
    data = Data(cfg, a.corpus, tok)
    vocab = tok.get_vocab_size()
    probes = Probes(cfg, data.tasks, data.held)
    full = full_ckpt_path(a.full_dir, arch)
    # the skill stage: the leader decides its end, every other model of the run follows (tools/skill_gate.py)
    gate = Gate(cfg["skill"], [a.full_dir, a.ckpt_dir], leader=arch == cfg["skill"]["leader"]) if cfg.get("skill") else None
    state_path = os.path.join(a.ckpt_dir, f"state-{arch}.json")
    model_dir = os.path.join(a.models, f"demo-{arch}")
    cstate = C.read_json(state_path) if os.path.exists(state_path) else None
    fstep = torch.load(full, map_location="cpu", weights_only=False)["state"]["step"] if os.path.exists(full) else -1
    if a.fresh:
        if cstate or fstep >= 0:
            log(f"{arch}: --fresh: ignoring the existing checkpoints")
        st = {"step": 0, "plan": {"total_steps": plan["total_steps"], "targets": call_targets}, "curve": [], "evals": [], "stages": []}
        tr = Trainer(cfg, arch, data, vocab, st, gate)
        how = "fresh"
    elif fstep >= 0 and (cstate is None or fstep >= cstate["step"]):
        tr = resume_trainer(cfg, arch, data, vocab, full, None, None, gate)
        how = "full"
    elif cstate is not None:
        lp = os.path.join(model_dir, "train_log.json")
        got = C.read_json(lp).get("settings", {}).get("steps") if os.path.exists(lp) else None
        if got != cstate["step"] or not os.path.exists(os.path.join(model_dir, "model.safetensors")):
            raise SystemExit(f"{state_path} is at step {cstate['step']} but {model_dir} holds step {got}: "
                             "unpack the last call's <arch>.tgz.* in the repo root first")
        tr = resume_trainer(cfg, arch, data, vocab, None, model_dir, cstate, gate)
        how = "compact"
    else:
        raise SystemExit(f"{arch}: nothing to resume (no {full}, no {state_path}); stage 1 needs --fresh")
    st = tr.state
    st["plan"]["total_steps"] = plan["total_steps"]
    tr.ignore_stop = a.ignore_stop
    if st.get("stopped_by_rule") and not a.ignore_stop:
        log(f"{arch}: stopped by the stop rule earlier ({st['stopped_by_rule']}); exporting only (--ignore-stop to go on)")
        target = st["step"]
    elif a.target is not None:
        target = max(a.target, st["step"])
    else:
        # a call's target counts main-stage steps (the plan's); the skill stage's steps come before them
        call = len(st["stages"])
        t_main = min(call_targets[min(call, len(call_targets) - 1)], plan["total_steps"])
        target = (lambda: max(tr.offset() + t_main, st["step"])) if gate else max(t_main, st["step"])
    tgt = target() if callable(target) else target
    log(f"{arch}: {how} start at step {st['step']}, this call's target {tgt} of {tr.total()}"
        f"{'' if gate is None else f' (skill stage: {gate.read()})'} (scan {scan_name(arch) or '-'}, device {device})")
    stop_at = a.deadline_epoch - a.export_reserve
    if DEV == "cuda":
        torch.cuda.reset_peak_memory_stats()
    info = tr.run(target, stop_at, probes)
    info.update(resume=how, call=len(st["stages"]) + 1, device=device,
                peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2) if DEV == "cuda" else None)
    log(f"{arch}: {info}")
    st["stages"].append(info)
    # (a) full checkpoint (fp32 weights, optimizer, state), for a warm machine; saved again below with the eval
    save_full(full, tr.model, tr.opt, st)
    # (b) compact: the float16 weights in the model folder + the state json
    t = time.time()
    fp32 = {k: v.detach().clone() for k, v in tr.model.state_dict().items()}
    with torch.no_grad():
        for p in tr.model.parameters():
            p.copy_(p.half().float())
    final = (tr.skill_end() is not None and st["step"] >= tr.total()) or bool(st.get("stopped_by_rule"))
    # nothing below may cost the call its export: failures are recorded, not raised
    try:
        ev = final_eval(tr.model, cfg, data.tasks, data.held, quick=not final and not a.full_eval)
    except Exception as e:  # noqa: BLE001
        log(f"{arch}: final eval failed: {e!r}")
        ev = {"error": repr(e)[:500]}
    if not a.no_hf:
        try:
            x = torch.from_numpy(np.stack([data.held[i * 600 : i * 600 + 512] for i in range(2)])).long().to(DEV)
            ev["parity_vs_transformers"] = parity(tr.model, cfg, arch, vocab, x)
        except Exception as e:  # noqa: BLE001
            log(f"{arch}: parity check failed: {e!r}")
            ev["parity_vs_transformers"] = {"error": repr(e)[:500]}
    ev["drift"] = tr.drift() if arch in SSM else None
    ev["step"] = st["step"]
    info["eval"] = ev
    log(f"{arch} eval @{st['step']}: {json.dumps({k: v for k, v in ev.items() if k != 'parity_vs_transformers'})}")
    export_model(tr.model, cfg, arch, tok, tok_path, model_dir, train_log(plan, st, arch, ev, device, gate), golden=not a.no_hf)
    write_json(st, state_path)
    tr.model.load_state_dict(fp32)
    save_full(full, tr.model, tr.opt, st)
    log(f"{arch}: saved {full}, {state_path}, {model_dir} ({round(time.time() - t, 1)}s for eval + export)")


def gate_record(plan, gate):
    """The skill stage as the run's train_log shows it: its settings, the leader's checks and G (None: no stage)."""
    if gate is None:
        return None
    g = gate.load()  # as the leader left it (a follower stopped early may not have looked at the latest checks)
    return {"settings": gate.skill, "end": g["end"], "reason": g.get("reason"), "checks": g["checks"],
            "main_steps": plan["total_steps"]}


def train_log(plan, st, arch, ev, device, gate=None):
    cfg = plan["settings"]
    lengths = sorted({L for _, ls, _ in cfg["curriculum"] for L in ls})
    return {
        "model": f"demo-{arch}",
        "params": plan["params"][arch],
        "settings": {
            **{k: v for k, v in cfg.items() if k not in ARCHS},
            "model": cfg[arch],
            "seq": max(lengths),
            "seq_lengths": lengths,
            "steps": st["step"],
            "planned_steps": plan["total_steps"],  # the main stage's (a skill stage's steps come before them)
            "train_tokens": st["step"] * cfg["tokens_per_step"],
            "train_stream_tokens": plan["train_stream_tokens"],
            "heldout_stream_tokens": plan["heldout_stream_tokens"],
            "chars_per_token": plan["chars_per_token"],
            "device": device,
            **plan["info"],
            "optimizer": "AdamW, grad clip, bf16 autocast, fp32 master weights and scan",
            "schedule": "linear warm-up, constant, cosine decay over the last decay_frac to final_lr_frac (WSD)",
        },
        "plan": {**{k: plan[k] for k in ("total_steps", "targets", "timing", "pair_step_s", "budget_s", "checks_init", "made_at")},
                 **{k: plan[k] for k in ("archs", "arch_targets", "joined") if k in plan}},
        "stages": st["stages"],
        "skill_stage": gate_record(plan, gate),
        "eval": ev,
        "evals": st["evals"],
        "curve": st["curve"],
        "stopped_by_rule": st.get("stopped_by_rule"),
    }


def cmd_finalize(a):
    logs = {}
    for arch in ARCHS:
        p = os.path.join(a.models, f"demo-{arch}", "train_log.json")
        if os.path.exists(p):
            logs[arch] = (p, C.read_json(p))
    for arch, (p, lg) in logs.items():
        others = {o: logs[o][1]["eval"] for o in logs if o != arch}
        if not others:
            continue
        pair_other = {"mamba": "pythia", "pythia": "mamba"}.get(arch)
        if pair_other in others:  # the pair's field, as before
            lg["other_model_eval"] = others[pair_other]
        lg["other_models_eval"] = others  # every other demo model's final eval
        write_json(lg, p)
    summary = {arch: {"steps": lg["settings"]["steps"], "planned": lg["settings"]["planned_steps"],
                      "eval": {k: v for k, v in lg["eval"].items() if k not in ("parity_vs_transformers",)},
                      "stages": [{k: s[k] for k in ("call", "from", "to", "seconds", "steps_per_s", "stopped", "resume")} for s in lg["stages"]]}
               for arch, (p, lg) in logs.items()}
    print(json.dumps(summary, indent=1))
    if a.summary:
        write_json(summary, a.summary)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["plan", "train", "finalize"])
    ap.add_argument("--arch", choices=ARCHS)
    ap.add_argument("--archs", default=",".join(PAIR), help="plan: the models of the run (comma or space separated)")
    ap.add_argument("--join", action="store_true", help="plan: --archs join the existing plan (same settings, "
                    "tokenizer, total steps and batches)")
    ap.add_argument("--corpus", default=os.path.join(ROOT, ".corpus/corpus.jsonl.xz"))
    ap.add_argument("--models", default=os.path.join(ROOT, "public/models"), help="where demo-<arch>/ folders go")
    ap.add_argument("--ckpt-dir", default=os.path.join(ROOT, ".ckpt"), help="compact state (returned, carried on a cold call)")
    ap.add_argument("--full-dir", default=os.path.join(ROOT, ".ckpt-full"), help="full checkpoints (survive a warm machine)")
    ap.add_argument("--deadline-epoch", type=float, default=None, help="unix time by which everything must be saved")
    ap.add_argument("--deadline", type=float, default=560, help="seconds from now (if --deadline-epoch is not given)")
    ap.add_argument("--export-reserve", type=float, default=75, help="seconds kept for checkpoint, eval and export")
    ap.add_argument("--calls", type=int, default=2, help="GPU calls the plan spreads the run over (--join: the calls "
                    "of the joining models)")
    ap.add_argument("--call-budget", type=float, default=560, help="seconds of a later call (its --deadline)")
    ap.add_argument("--startup-s", type=float, default=25, help="start-up of a train process (imports, data)")
    ap.add_argument("--later-call-overhead", type=float, default=10, help="other start-up of a later call")
    ap.add_argument("--compile-overhead", type=float, default=45, help="seconds of scan compiles in call 1")
    ap.add_argument("--safety", type=float, default=0.9)
    ap.add_argument("--total-steps", type=int, default=None, help="fix the plan's total steps (else from timing)")
    ap.add_argument("--max-steps", type=int, default=10000, help="cap of the planned steps (16384 tokens each)")
    ap.add_argument("--time-steps", type=int, default=12)
    ap.add_argument("--target", type=int, default=None, help="override this call's step target")
    ap.add_argument("--scan", default="auto", choices=["auto", "triton", "compile", "eager"])
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "public/models/demo-mamba/tokenizer.json"),
                    help="plan: reuse this tokenizer.json ('train': train one from the corpus)")
    ap.add_argument("--smoke", action="store_true", help="plan with the tiny settings (a smoke of the whole pipeline)")
    ap.add_argument("--smoke-first", action="store_true", help="(the default) plan runs the smoke run first")
    ap.add_argument("--no-smoke", action="store_true", help="plan without the smoke run")
    ap.add_argument("--no-hf", action="store_true", help="no transformers parity / golden (local CPU tests)")
    ap.add_argument("--fresh", action="store_true", help="train: start from step 0 (stage 1)")
    ap.add_argument("--ignore-stop", action="store_true")
    ap.add_argument("--full-eval", action="store_true", help="the full final eval even when not at the last step")
    ap.add_argument("--summary", default=None)
    a = ap.parse_args(argv)
    if a.deadline_epoch is None:
        a.deadline_epoch = T_START + a.deadline
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if a.cmd == "plan":
        cmd_plan(a)
    elif a.cmd == "train":
        if not a.arch:
            ap.error("train needs --arch")
        cmd_train(a)
    else:
        cmd_finalize(a)
    return a


if __name__ == "__main__":
    main()
