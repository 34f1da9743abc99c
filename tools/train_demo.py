#!/usr/bin/env python3
"""Trains the built-in demo pair: a small MambaForCausalLM and a GPTNeoXForCausalLM (Pythia
style) of matched size, on the same offline English corpus (tools/make_corpus.sh -> .corpus/)
mixed with synthetic recall tasks (passkey, key-value lookup, copy), with the same batches in
the same order, the same number of steps and the same LR schedule.

Outputs, per model, in <out>/demo-mamba and <out>/demo-pythia (default public/models):
config.json, model.safetensors (float16), tokenizer.json, tokenizer_config.json,
train_log.json (settings, loss curve, held-out loss, recall accuracy) and golden.json
(float64 logits of the saved float16 weights for the last 3 positions of a fixed prompt).

Mamba is trained with the chunked parallel scan of tools/lm_common.py (the image has no
mamba-ssm / causal-conv1d kernels; transformers' sequential fallback is far slower); its
output is checked against transformers' own MambaForCausalLM forward before and after training.

    python3 tools/train_demo.py --smoke-first --deadline 480 --out public/models
"""
import argparse
import hashlib
import json
import lzma
import math
import os
import shutil
import sys
import tarfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_common as C  # noqa: E402

T_START = time.time()
COMPILE_STATE = {}
DEV = "cuda" if torch.cuda.is_available() else "cpu"  # CPU only for a quick local smoke test


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def log(*a):
    print(f"[{time.time() - T_START:7.1f}s]", *a, flush=True)


def stable_frac(s):
    return int(hashlib.md5(s.encode()).hexdigest()[:8], 16) / 2**32


# ----------------------------------------------------------------------------- data
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


NAMES = (
    "apple river mountain candle window garden silver thunder pepper violin lantern rabbit "
    "harbor marble orchard pencil meadow falcon copper blanket castle dragon ember forest "
    "glacier hammer island jacket kettle ladder mirror needle oyster pillow quartz saddle "
    "tiger umbrella valley wagon yellow zebra anchor bottle cactus desert engine feather "
    "guitar helmet igloo jungle kitten lemon magnet napkin onion parrot rocket sponge tulip"
).split()


PASSKEY_SHARE, KV_SHARE = 0.6, 0.25  # of the synthetic sequences; the rest is copy-span


class Synth:
    """Synthetic recall sequences built at token level from filler windows of a stream."""

    def __init__(self, tok, stream, rng):
        self.tok, self.stream, self.rng = tok, stream, rng
        self.cache = {}

    def enc(self, s):
        if s not in self.cache:
            self.cache[s] = self.tok.encode(s).ids
        return self.cache[s]

    def filler(self, n):
        if n <= 0:
            return []
        o = int(self.rng.integers(0, len(self.stream) - n - 1))
        return self.stream[o : o + n].tolist()

    def with_needles(self, total, needles, tail):
        """filler of the right size with needles inserted at sorted random depths, then tail."""
        n_fill = total - sum(len(x) for x in needles) - len(tail)
        assert n_fill >= 0, "sequence too short for the task"
        fill = self.filler(n_fill)
        cuts = sorted(int(c) for c in self.rng.integers(0, n_fill + 1, size=len(needles)))
        out, prev = [], 0
        for c, nd in zip(cuts, needles):
            out += fill[prev:c] + nd
            prev = c
        out += fill[prev:] + tail
        return out

    # Each task returns (tokens, answer). With the answer, `tokens` is a full training sequence
    # of `total` tokens ending in "... <question> <answer>.". Without it, `tokens` is the prompt
    # (ending with the question) and len(prompt) + len(answer) == total.
    def _finish(self, total, needles, q, ans, end, with_answer):
        if with_answer:
            return self.with_needles(total, needles, q + ans + end), ans
        return self.with_needles(total - len(ans), needles, q), ans

    # The passkey and copy tasks use exactly the text of the page's recall lab (src/recall/passkey.ts,
    # src/recall/copyspan.ts), so that the lab measures what the models were taught.
    def passkey(self, total, with_answer=True):
        key = int(self.rng.integers(10000, 100000))
        needle = self.enc(f"\nThe pass key is {key}. Remember it. {key} is the pass key.\n")
        q = self.enc("\nWhat is the pass key? The pass key is")
        return self._finish(total, [needle], q, self.enc(f" {key}"), self.enc("."), with_answer)

    def kv(self, total, with_answer=True):
        k = int(self.rng.integers(3, 7))
        names = self.rng.choice(len(NAMES), size=k, replace=False)
        vals = self.rng.integers(100, 1000, size=k)
        needles = [self.enc(f" The code for {NAMES[n]} is {v}.") for n, v in zip(names, vals)]
        j = int(self.rng.integers(0, k))
        q = self.enc(f" What is the code for {NAMES[names[j]]}? The code for {NAMES[names[j]]} is")
        return self._finish(total, needles, q, self.enc(f" {vals[j]}"), self.enc("."), with_answer)

    def copy(self, total, with_answer=True):
        """Copy-span as in the recall lab: a span somewhere in the document, its first `p` tokens
        repeated at the end, the model continues with the next `c` tokens (no markers)."""
        p, c = int(self.rng.integers(8, 17)), 16
        ctx = self.filler(total - p - c)
        at = int(self.rng.integers(0, len(ctx) - (p + c) + 1))
        span = ctx[at : at + p + c]
        ans = span[p:]
        prompt = ctx + span[:p]
        return (prompt + ans if with_answer else prompt), ans

    def sample(self, total):
        r = self.rng.random()
        if r < PASSKEY_SHARE:
            return self.passkey(total)[0]
        if r < PASSKEY_SHARE + KV_SHARE:
            return self.kv(total)[0]
        return self.copy(total)[0]


def build_batches(tok, stream, n_steps, batch, seq, synth_frac, seed):
    """(n_steps, batch, seq + 1) int32; the same tensor feeds both models."""
    rng = np.random.default_rng(seed)
    syn = Synth(tok, stream, rng)
    out = np.empty((n_steps, batch, seq + 1), dtype=np.int32)
    n_syn = 0
    for s in range(n_steps):
        for b in range(batch):
            if rng.random() < synth_frac:
                out[s, b] = syn.sample(seq + 1)
                n_syn += 1
            else:
                o = int(rng.integers(0, len(stream) - seq - 2))
                out[s, b] = stream[o : o + seq + 1]
    return torch.from_numpy(out), n_syn


# ----------------------------------------------------------------------------- models
def build_mamba(vocab, a):
    from transformers import MambaConfig, MambaForCausalLM

    cfg = MambaConfig(
        vocab_size=vocab,
        hidden_size=a.d_model,
        state_size=16,
        num_hidden_layers=a.mamba_layers,
        expand=2,
        conv_kernel=4,
        time_step_rank="auto",
        use_bias=False,
        use_conv_bias=True,
        hidden_act="silu",
        layer_norm_epsilon=1e-5,
        residual_in_fp32=True,
        tie_word_embeddings=True,
        initializer_range=0.02,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    torch.manual_seed(a.seed)
    model = MambaForCausalLM(cfg)
    # the reference mamba_ssm initialisation, applied explicitly
    with torch.no_grad():
        torch.nn.init.normal_(model.backbone.embeddings.weight, std=0.02)
        for layer in model.backbone.layers:
            m = layer.mixer
            layer.norm.weight.fill_(1.0)
            for lin in (m.in_proj, m.x_proj, m.out_proj):
                lin.reset_parameters()
            m.conv1d.reset_parameters()
            m.out_proj.weight /= math.sqrt(cfg.num_hidden_layers)
            dt_std = cfg.time_step_rank**-0.5
            torch.nn.init.uniform_(m.dt_proj.weight, -dt_std, dt_std)
            dt = torch.exp(torch.rand(m.dt_proj.bias.shape) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            dt = dt.clamp(min=1e-4)
            m.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
            N = cfg.state_size
            m.A_log.copy_(torch.log(torch.arange(1, N + 1, dtype=torch.float32))[None, :].expand_as(m.A_log))
            m.D.fill_(1.0)
        model.backbone.norm_f.weight.fill_(1.0)
    assert model.lm_head.weight.data_ptr() == model.backbone.embeddings.weight.data_ptr()
    return model


def build_pythia(vocab, a):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    cfg = GPTNeoXConfig(
        vocab_size=vocab,
        hidden_size=a.d_model,
        num_hidden_layers=a.pythia_layers,
        num_attention_heads=a.d_model // 64,
        intermediate_size=a.pythia_ffn,
        hidden_act="gelu",
        max_position_embeddings=2048,
        layer_norm_eps=1e-5,
        use_parallel_residual=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        tie_word_embeddings=False,
        attention_bias=True,
        initializer_range=0.02,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(a.seed)
    model = GPTNeoXForCausalLM(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name or "layer_norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                torch.nn.init.normal_(p, std=0.02)
    return model


def logits_fn(model, arch, chunk, scan=None):
    if arch == "mamba":
        return lambda x: C.mamba_logits_fast(model, x, chunk=chunk, scan=scan)
    return lambda x: model(input_ids=x, use_cache=False).logits


def param_groups(model, wd):
    decay, no_decay, seen = [], [], set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if p.ndim < 2 or "A_log" in name or "embed" in name or "lm_head" in name or "norm" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step, total, peak, warmup, final_frac=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def train(model, arch, batches, n_steps, a, time_cap, log_every):
    dev = DEV
    model.to(dev).train()
    fwd = logits_fn(model, arch, a.chunk)
    compiled = arch == "mamba" and a.compile and not COMPILE_STATE.get("failed")
    if compiled:  # the scan through torch.compile (fuses the elementwise passes); eager if it fails
        if "scan" not in COMPILE_STATE:
            COMPILE_STATE["scan"] = torch.compile(C.selective_scan, dynamic=False)
        fwd = logits_fn(model, arch, a.chunk, scan=COMPILE_STATE["scan"])
    opt = torch.optim.AdamW(param_groups(model, a.wd), lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                            **({"fused": True} if DEV == "cuda" else {}))
    warmup = max(1, min(a.warmup, n_steps // 10))
    curve, t0, stopped = [], time.time(), None
    step_times = []
    acc_loss, acc_n = 0.0, 0
    for step in range(n_steps):
        ts = time.time()
        lr = lr_at(step, n_steps, a.lr, warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        xb = batches[step].to(dev, non_blocking=True).long()
        x, y = xb[:, :-1], xb[:, 1:]
        try:
            with torch.autocast(DEV, dtype=torch.bfloat16):
                logits = fwd(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
        except Exception as e:  # noqa: BLE001
            if not (compiled and step == 0):
                raise
            log(f"torch.compile of the scan failed ({type(e).__name__}: {str(e)[:300]}); using eager")
            COMPILE_STATE["failed"] = repr(e)[:500]
            compiled = False
            opt.zero_grad(set_to_none=True)
            fwd = logits_fn(model, arch, a.chunk)
            with torch.autocast(DEV, dtype=torch.bfloat16):
                logits = fwd(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        acc_loss += loss.detach()
        acc_n += 1
        if (step + 1) % log_every == 0 or step == n_steps - 1 or step < 3:
            lv = float(acc_loss / acc_n)
            acc_loss, acc_n = 0.0, 0
            curve.append({"step": step + 1, "loss": round(lv, 4), "lr": lr, "grad_norm": round(float(gn), 4),
                          "elapsed_s": round(time.time() - t0, 2)})
            if (step + 1) % (log_every * 5) == 0 or step < 3 or step == n_steps - 1:
                log(f"{arch} step {step + 1}/{n_steps} loss {lv:.4f} lr {lr:.2e} gn {float(gn):.2f}")
            if not math.isfinite(lv):
                raise RuntimeError(f"{arch}: loss is not finite at step {step + 1}")
        if step < 8:
            sync()
        step_times.append(time.time() - ts)
        if time.time() - t0 > time_cap:
            stopped = step + 1
            log(f"{arch}: time cap {time_cap:.0f}s reached at step {stopped}")
            break
    sync()
    return {
        "curve": curve,
        "steps_done": stopped or n_steps,
        "stopped_early_at": stopped,
        "train_seconds": round(time.time() - t0, 2),
        "step_times_first": [round(t, 4) for t in step_times[:8]],
        "compiled_scan": bool(compiled),
        "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if DEV == "cuda" else None,
    }


# ----------------------------------------------------------------------------- eval
@torch.no_grad()
def heldout_loss(model, arch, stream, n, L, bs, a):
    rng = np.random.default_rng(99 + L)
    fwd = logits_fn(model, arch, a.chunk)
    tot, cnt = 0.0, 0
    for i in range(0, n, bs):
        xs = []
        for _ in range(min(bs, n - i)):
            o = int(rng.integers(0, len(stream) - L - 2))
            xs.append(stream[o : o + L + 1])
        xb = torch.from_numpy(np.stack(xs)).long().to(DEV)
        logits = fwd(xb[:, :-1]).float()
        tot += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction="sum"))
        cnt += xb[:, 1:].numel()
    return tot / cnt


@torch.no_grad()
def recall_acc(model, arch, tok, stream, task, ctx, n, bs, a):
    """Exact match of the answer tokens under greedy decoding, checked teacher-forced: the
    model's argmax at every answer position must be the answer token."""
    rng = np.random.default_rng(7 + ctx + len(task))
    syn = Synth(tok, stream, rng)
    fwd = logits_fn(model, arch, a.chunk)
    correct = 0
    for i in range(0, n, bs):
        rows, spans = [], []
        for _ in range(min(bs, n - i)):
            prompt, ans = getattr(syn, task)(ctx, with_answer=False)
            assert len(prompt) + len(ans) == ctx
            rows.append(prompt + ans)
            spans.append((len(prompt), ans))
        Lm = max(len(r) for r in rows)
        xb = torch.zeros((len(rows), Lm), dtype=torch.long)
        for j, r in enumerate(rows):
            xb[j, : len(r)] = torch.tensor(r)
        pred = fwd(xb.to(DEV)).argmax(-1).cpu()
        for j, (p, ans) in enumerate(spans):
            got = pred[j, p - 1 : p - 1 + len(ans)].tolist()
            correct += int(got == ans)
    return correct / n


def evaluate(model, arch, tok, held, a, smoke):
    model.eval()
    n_hold = 4 if smoke else 64
    res = {
        "heldout_loss_512": round(heldout_loss(model, arch, held, n_hold, 512, 16, a), 4),
        "heldout_loss_2048": round(heldout_loss(model, arch, held, max(2, n_hold // 4), 2048, 4, a), 4),
    }
    n = 2 if smoke else a.eval_n
    res["passkey"] = {}
    for ctx in (256, 512, 1024, 2048):
        bs = 16 if ctx <= 512 else (8 if ctx == 1024 else 4)
        res["passkey"][str(ctx)] = round(recall_acc(model, arch, tok, held, "passkey", ctx, n, bs, a), 4)
    res["kv_512"] = round(recall_acc(model, arch, tok, held, "kv", 512, n, 16, a), 4)
    res["copy_512"] = round(recall_acc(model, arch, tok, held, "copy", 512, n, 16, a), 4)
    res["kv_1024"] = round(recall_acc(model, arch, tok, held, "kv", 1024, n, 8, a), 4)
    return res


# ----------------------------------------------------------------------------- save
GOLDEN_PROMPT = (
    "The pass key is 71432. Remember it. 71432 is the pass key. In the beginning God created "
    "the heaven and the earth. What is the pass key? The pass key is"
)


def save_model(model, arch, tok, out_dir):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    model.to(torch.float16).save_pretrained(out_dir)
    gc = os.path.join(out_dir, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)
    with open(os.path.join(out_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg["dtype"] = "float16"
    if "torch_dtype" in cfg:
        cfg["torch_dtype"] = "float16"
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    C.save_tokenizer(tok, out_dir)


@torch.no_grad()
def golden_for(out_dir, arch, tok):
    from transformers import GPTNeoXForCausalLM, MambaForCausalLM

    if arch == "mamba":
        m = MambaForCausalLM.from_pretrained(out_dir)
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
    L = len(ids)
    return {
        "format": "mamba-vs-transformer golden v1 (demo)",
        "model": os.path.basename(out_dir),
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


def tar_dir(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with tarfile.open(dst, "w:gz") as t:
        t.add(src, arcname=os.path.basename(src))


@torch.no_grad()
def parity_check(model, n_tokens=300):
    """chunked-scan forward vs transformers' own forward (fp32, no autocast)."""
    model.eval()
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator().manual_seed(5)
    x = torch.randint(1, model.config.vocab_size, (2, n_tokens), generator=g).to(DEV)
    ref = model(x, use_cache=False).logits.float()
    got = C.mamba_logits_fast(model, x).float()
    torch.backends.cuda.matmul.allow_tf32 = tf32
    model.train()
    return float((ref - got).abs().max()), float(ref.abs().max())


# ----------------------------------------------------------------------------- main
def run(a, tok, train_stream, held_stream, out_root, smoke, steps_override=None, tar_out=None):
    from_smoke = {}
    n_steps = steps_override or (6 if smoke else a.max_steps)
    log(f"=== {'SMOKE' if smoke else 'FULL'} run: {n_steps} steps, batch {a.batch} x {a.seq}")
    batches, n_syn = build_batches(tok, train_stream, n_steps, a.batch, a.seq, a.synth_frac, a.seed + 1)
    log(f"batches built: {tuple(batches.shape)}, synthetic sequences {n_syn}")
    V = tok.get_vocab_size()
    results = {}
    for arch in ("mamba", "pythia"):
        model = build_mamba(V, a) if arch == "mamba" else build_pythia(V, a)
        n_params = C.count_params(model)
        log(f"{arch}: {n_params} parameters")
        model.to(DEV)
        parity = None
        if arch == "mamba":
            parity = parity_check(model)
            log(f"mamba parity (chunked scan vs transformers) before training: max|diff| {parity[0]:.2e} (max|logit| {parity[1]:.2f})")
            assert parity[0] < 1e-3 * max(1.0, parity[1]), "chunked scan does not match transformers"
            if smoke and a.measure_hf:
                from_smoke["hf_slow_step_s"] = measure_hf_step(model, batches, a)
        if DEV == "cuda":
            torch.cuda.reset_peak_memory_stats()
        cap = a.smoke_cap if smoke else a.time_cap
        tr = train(model, arch, batches, n_steps, a, cap, 1 if smoke else a.log_every)
        log(f"{arch}: trained {tr['steps_done']} steps in {tr['train_seconds']}s, peak mem {tr['peak_mem_gb']} GB")
        # evaluate and ship the float16 weights
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.half().float())
        if arch == "mamba":
            parity_after = parity_check(model)
            log(f"mamba parity after training: max|diff| {parity_after[0]:.2e} (max|logit| {parity_after[1]:.2f})")
        ev = evaluate(model, arch, tok, held_stream, a, smoke)
        log(f"{arch} eval: {json.dumps(ev)}")
        out_dir = os.path.join(out_root, f"demo-{arch}")
        save_model(model, arch, tok, out_dir)
        log(f"{arch} tensors: {json.dumps(C.safetensors_keys(out_dir))}")
        results[arch] = {"params": n_params, "train": tr, "eval": ev,
                         "parity_vs_transformers": {"before": parity, "after": parity_after} if arch == "mamba" else None}
        if tar_out:
            tar_dir(out_dir, os.path.join(tar_out, f"demo-{arch}.tgz"))
        del model
        if DEV == "cuda":
            torch.cuda.empty_cache()
    return results, from_smoke, n_steps


def measure_hf_step(model, batches, a):
    """Seconds per training step through transformers' own (sequential) Mamba fallback."""
    try:
        x0 = batches[0].to(DEV).long()
        ts = []
        for x in (x0[:2, :65], x0):  # a short warm-up, then one full-size step
            sync()
            t = time.time()
            with torch.autocast(DEV, dtype=torch.bfloat16):
                logits = model(x[:, :-1], use_cache=False).logits
            F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).backward()
            sync()
            ts.append(time.time() - t)
        model.zero_grad(set_to_none=True)
        log(f"transformers sequential Mamba path: {ts[-1]:.2f}s per fwd+bwd step (batch {a.batch} x {a.seq})")
        return round(ts[-1], 3)
    except Exception as e:  # informative only
        log(f"could not time the transformers Mamba path: {e}")
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=".corpus/corpus.jsonl.xz")
    ap.add_argument("--out", default="public/models")
    ap.add_argument("--tar-out", default=None, help="also write demo-<arch>.tgz here")
    ap.add_argument("--smoke-first", action="store_true")
    ap.add_argument("--smoke-only", action="store_true")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--tok-sample-chars", type=int, default=8_000_000)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--mamba-layers", type=int, default=8)
    ap.add_argument("--pythia-layers", type=int, default=4)
    ap.add_argument("--pythia-ffn", type=int, default=768)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--synth-frac", type=float, default=0.6)
    ap.add_argument("--compile", action="store_true", help="torch.compile the Mamba scan for training")
    ap.add_argument("--passkey-share", type=float, default=PASSKEY_SHARE, help="share of passkey among synthetic sequences")
    ap.add_argument("--kv-share", type=float, default=KV_SHARE, help="share of key-value lookup among synthetic sequences")
    ap.add_argument("--heldout-frac", type=float, default=0.02)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-n", type=int, default=48)
    ap.add_argument("--time-cap", type=float, default=230, help="seconds per model training loop")
    ap.add_argument("--smoke-cap", type=float, default=60)
    ap.add_argument("--mamba-budget", type=float, default=190, help="target seconds of Mamba training")
    ap.add_argument("--deadline", type=float, default=500, help="seconds after start by which all must be done")
    ap.add_argument("--eval-reserve", type=float, default=70, help="seconds kept for evals and saving")
    ap.add_argument("--measure-hf", action="store_true")
    a = ap.parse_args()
    globals().update(PASSKEY_SHARE=a.passkey_share, KV_SHARE=a.kv_share)  # read by Synth.sample

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device_name = torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu"
    log(f"torch {torch.__version__}, device {device_name}")
    train_docs, held_docs = load_corpus(a.corpus, a.heldout_frac)
    log(f"corpus: {len(train_docs)} train docs ({sum(map(len, train_docs))} chars), {len(held_docs)} held-out docs")
    sample, n = [], 0
    for i, d in enumerate(train_docs):
        if stable_frac(f"tok:{i}") < a.tok_sample_chars / max(1, sum(map(len, train_docs))):
            sample.append(d)
            n += len(d)
    tok = C.train_bpe_tokenizer(sample, vocab_size=a.vocab)
    log(f"tokenizer trained on {n} chars, vocab {tok.get_vocab_size()}")
    train_stream = encode_stream(tok, train_docs)
    held_stream = encode_stream(tok, held_docs)
    log(f"tokens: train {len(train_stream)}, held-out {len(held_stream)}; chars/token {sum(map(len, train_docs)) / len(train_stream):.2f}")

    smoke_info = {}
    if a.smoke_first or a.smoke_only:
        ts = time.time()
        smoke_root = "/tmp/demo_smoke"
        res, smoke_info, _ = run(a, tok, train_stream, held_stream, smoke_root, smoke=True)
        for arch in ("mamba", "pythia"):
            g = golden_for(os.path.join(smoke_root, f"demo-{arch}"), arch, tok)
            log(f"smoke golden {arch}: greedy {g['greedy_ids']} checks {g['checks']}")
        # steady-state step time: median of the later smoke steps
        for arch in ("mamba", "pythia"):
            st = res[arch]["train"]["step_times_first"][2:]
            smoke_info[f"{arch}_step_s"] = float(np.median(st))
        smoke_info["smoke_seconds"] = round(time.time() - ts, 1)
        log(f"smoke done: {smoke_info}")
        if a.smoke_only:
            return
    # steps: the same for both models; sized so that Mamba trains ~mamba_budget seconds and
    # everything ends before the deadline
    if smoke_info:
        tm, tp = smoke_info["mamba_step_s"], smoke_info["pythia_step_s"]
        remaining = a.deadline - (time.time() - T_START) - a.eval_reserve
        steps = int(min(a.max_steps, a.mamba_budget / tm, 0.9 * remaining / (tm + tp)))
    else:
        steps = a.max_steps
    steps = max(steps, 10)
    log(f"full run: {steps} steps per model")
    res, _, n_steps = run(a, tok, train_stream, held_stream, a.out, smoke=False, steps_override=steps,
                          tar_out=a.tar_out)
    settings = {k: v for k, v in vars(a).items()}
    settings.update({"steps": n_steps, "tokens_per_step": a.batch * a.seq, "train_tokens": n_steps * a.batch * a.seq,
                     "train_stream_tokens": int(len(train_stream)), "heldout_stream_tokens": int(len(held_stream)),
                     "optimizer": "AdamW(betas=(0.9,0.95), eps=1e-8), grad clip 1.0, bf16 autocast",
                     "schedule": "linear warmup then cosine to 10% of peak",
                     "device": device_name, "torch": torch.__version__})
    import transformers
    import tokenizers

    settings["transformers"] = transformers.__version__
    settings["tokenizers"] = tokenizers.__version__
    for arch in ("mamba", "pythia"):
        out_dir = os.path.join(a.out, f"demo-{arch}")
        g = golden_for(out_dir, arch, tok)
        C.dump_json(g, os.path.join(out_dir, "golden.json"))
        log(f"golden {arch}: greedy '{g['greedy_text']}' checks {g['checks']}")
        tl = {"model": f"demo-{arch}", "settings": settings, "smoke": smoke_info, **res[arch],
              "other_model_eval": res["pythia" if arch == "mamba" else "mamba"]["eval"]}
        with open(os.path.join(out_dir, "train_log.json"), "w") as f:
            json.dump(tl, f, indent=1)
        if a.tar_out:
            tar_dir(out_dir, os.path.join(a.tar_out, f"demo-{arch}.tgz"))
    log("all done")


if __name__ == "__main__":
    main()
