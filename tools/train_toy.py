#!/usr/bin/env python3
"""The recipe's proof on a toy (issue 17, goal 2), and the training scan's check and speed (goal 1).

    python3 tools/train_toy.py check --out $OUT/scan_check.json
        the Triton scan of tools/mamba_scan.py (forward and every gradient) vs a float64 reference on odd shapes,
        then the training step time of the demo pair's shapes (FULL in train_demo.py: 16384 tokens per step, bf16
        autocast, fp32 scan state) for Mamba (Triton scan) and GPT-NeoX, at L = 512 and 2048.
    python3 tools/train_toy.py toy --name A --arch mamba --layers 2 --d 256 --state 16 --lr 2e-3 --seconds 300 \
            --out $OUT/toy-A.json
        a small model trained ONLY on synthetic recall rows (passkey + multi-key, 128-512 tokens, corpus filler) with
        the demo recipe's code (train_demo.Tasks / make_batch / build_model / Trainer.step: the same loss weights,
        optimizer and init), evaluated every --eval-every seconds on held-out probes: passkey exact match at 256,
        512 and 1024 with corpus filler and with the classic passkey filler the model never saw, multi-key exact at
        512 (K = 4, 16), and for Mamba the mean Δ at needle vs filler tokens per layer.

Needs .corpus/ (tools/make_corpus.sh) and the shipped tokenizer (public/models/demo-mamba/tokenizer.json).
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_common as C  # noqa: E402
import mamba_scan  # noqa: E402
import train_demo as T  # noqa: E402

CLASSIC_FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def log(*a):
    print(f"[{time.time() - T.T_START:7.1f}s]", *a, flush=True)


def toy_cfg(a):
    cfg = copy.deepcopy(T.FULL)
    cfg["mamba"] = {"hidden_size": a.d, "num_hidden_layers": a.layers, "state_size": a.state, "expand": 2,
                    "conv_kernel": 4}
    cfg["pythia"] = {"hidden_size": a.d, "num_hidden_layers": a.layers, "num_attention_heads": max(1, a.d // 64),
                     "intermediate_size": 4 * a.d}
    cfg.update(
        seed=a.seed,
        synth_frac=1.0,
        task_shares={"passkey": a.passkey_share, "multikey": 1.0 - a.passkey_share},
        curriculum=[[0.0, [128, 256, 512], [1, 1, 1]]],
        tokens_per_step=a.tokens,
        micro_tokens={"mamba": a.tokens, "pythia": a.tokens},
        lr=a.lr,
        warmup=a.warmup,
        decay_frac=0.0,  # constant after warm-up: the run length is a time budget
        multikey_max=16,
    )
    return cfg


def probes(tasks, stream, task, L, n, salt, **kw):
    return T.Probes.build(tasks, stream, task, L, n, salt, **kw)


def cmd_toy(a):
    t_start = time.time()
    cfg = toy_cfg(a)
    tok = T.load_tokenizer(a.tokenizer)
    vocab = tok.get_vocab_size()
    data = T.Data(cfg, a.corpus, tok)
    tasks = data.tasks
    classic = np.asarray(tok.encode(CLASSIC_FILLER * 400).ids, dtype=np.int32)
    ev = {}
    for L in a.eval_lengths:
        ev[f"passkey@{L}"] = probes(tasks, data.held, "passkey", L, a.eval_n, 21)
        ev[f"passkey-classic@{L}"] = probes(tasks, classic, "passkey", L, a.eval_n, 22)
    for k in (4, 16):
        ev[f"multikey{k}@512"] = probes(tasks, data.held, "multikey", 512, a.eval_n, 23, k=k)
    T.select_scan(a.scan if a.arch == "mamba" else "eager")
    state = {"step": 0, "plan": {"total_steps": 10**7}, "curve": [], "evals": []}
    tr = T.Trainer(cfg, a.arch, data, vocab, state)
    n_params = C.count_params(tr.model)
    log(f"toy {a.name}: {a.arch} {a.layers} layers d {a.d} N {a.state} lr {a.lr}: {n_params / 1e6:.2f} M params, "
        f"scan {T.SCAN['name'] if a.arch == 'mamba' else '-'}")
    out = {"name": a.name, "args": vars(a), "params": n_params, "scan": T.SCAN["name"] if a.arch == "mamba" else None,
           "curve": [], "evals": []}

    def evaluate(step):
        tr.model.eval()
        res = {"step": step, "tokens": step * cfg["tokens_per_step"], "t": round(time.time() - t_start, 1)}
        for name, pr in ev.items():
            if pr:
                r = T.score_probes(tr.model, pr, delta=(a.arch == "mamba" and name == "passkey@512"))
                res[name] = r
        tr.model.train()
        out["evals"].append(res)
        brief = {k: v["exact"] for k, v in res.items() if isinstance(v, dict)}
        dl = res.get("passkey@512", {}).get("delta_ratio_per_layer")
        log(f"{a.name} eval @{step} ({res['tokens'] / 1e6:.1f} M tok): exact {brief}" + (f" Δ needle/filler {dl}" if dl else ""))
        return res

    deadline = t_start + a.seconds
    next_eval = time.time() + a.eval_every
    step, acc, acc_n = 0, None, 0
    batch = T.make_batch(cfg, tasks, data.train, 0, 10**7)
    t_train = time.time()
    while time.time() < deadline:
        stats, gn, lr = tr.safe_step(batch, step)
        step += 1
        batch = T.make_batch(cfg, tasks, data.train, step, 10**7)
        acc = stats if acc is None else acc + stats
        acc_n += 1
        if step % 50 == 0:
            v = acc.tolist()
            ans = {t: round(v[3 + 2 * i] / v[4 + 2 * i], 4) for i, t in enumerate(T.TASKS) if v[4 + 2 * i] > 0}
            out["curve"].append({"step": step, "loss": round(v[0] / acc_n, 4), "answer_loss": ans,
                                 "grad_norm": round(float(gn), 3), "t": round(time.time() - t_start, 1)})
            if step % 500 == 0:
                log(f"{a.name} step {step} loss {v[0] / acc_n:.4f} ans {ans} ({(time.time() - t_train) / step * 1e3:.1f} ms/step)")
            acc, acc_n = None, 0
        if time.time() > next_eval:
            evaluate(step)
            next_eval = time.time() + a.eval_every
            with open(a.out, "w") as f:
                json.dump(out, f, indent=1)
    T.sync()
    out["steps"] = step
    out["ms_per_step"] = round((time.time() - t_train) / max(step, 1) * 1e3, 2)
    evaluate(step)
    if a.save:
        torch.save(tr.model.state_dict(), a.save)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    log(f"{a.name}: {step} steps, {out['ms_per_step']} ms/step, done")


def step_time(arch, cfg, vocab, L, n=12):
    """Mean seconds of Trainer.step on batches of cfg['tokens_per_step'] tokens of length L (after 3 warm-ups)."""
    state = {"step": 0, "plan": {"total_steps": 10**6}, "curve": [], "evals": []}

    class _D:  # Trainer needs only .tasks for make_batch, which we bypass
        tasks = None

    tr = T.Trainer(cfg, arch, _D, vocab, state)
    B = cfg["tokens_per_step"] // L
    rng = np.random.default_rng(0)
    batch = {"ids": rng.integers(0, vocab, size=(B, L + 1)).astype(np.int64), "w": np.ones((B, L), np.float32),
             "ans": np.zeros((B, L), bool), "task": np.zeros(B, np.int64), "L": L}
    for i in range(3):
        tr.step(batch, i)
    T.sync()
    t = time.time()
    for i in range(n):
        tr.step(batch, 3 + i)
    T.sync()
    peak = torch.cuda.max_memory_allocated() / 2**30 if T.DEV == "cuda" else 0.0
    del tr
    torch.cuda.empty_cache() if T.DEV == "cuda" else None
    return (time.time() - t) / n, peak


def cmd_check(a):
    res = {"device": torch.cuda.get_device_name() if T.DEV == "cuda" else "cpu", "torch": torch.__version__}
    fn = mamba_scan.make_scan("triton" if T.DEV == "cuda" else "torch", T=64, BD=16)
    shapes = [(2, 64, 256, 16), (1, 32, 2048, 16), (2, 50, 100, 16), (3, 20, 77, 12), (1, 8, 1, 16), (2, 24, 130, 5)]
    t = time.time()
    res["float64_check"] = mamba_scan.check_against_reference(fn, shapes, T.DEV, tol=1e-4)
    res["float64_check_seconds"] = round(time.time() - t, 1)
    res["float64_check_max"] = max(max(e.values()) for e in res["float64_check"].values())
    log(f"scan vs float64: max rel err {res['float64_check_max']:.2e} over {len(shapes)} shapes")
    T.select_scan("triton" if T.DEV == "cuda" else "eager")
    res["scan"] = T.SCAN["name"]
    cfg = copy.deepcopy(T.FULL)
    vocab = cfg["vocab"]
    res["step_s"] = {}
    for L in (512, 2048):
        for arch in ("pythia", "mamba"):
            s, peak = step_time(arch, cfg, vocab, L)
            res["step_s"][f"{arch}@{L}"] = {"s": round(s, 5), "peak_gib": round(peak, 2)}
            log(f"step {arch} L={L}: {s * 1e3:.1f} ms per {cfg['tokens_per_step']} tokens (peak {peak:.1f} GiB)")
        res["step_s"][f"ratio@{L}"] = round(res["step_s"][f"mamba@{L}"]["s"] / res["step_s"][f"pythia@{L}"]["s"], 3)
    log(f"mamba / pythia step: {res['step_s']['ratio@512']} at 512, {res['step_s']['ratio@2048']} at 2048")
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


def cmd_breakdown(a):
    """What bounds the Mamba step (goal 1): the step with the Triton scan, with the scan replaced by a stand-in of
    the same inputs and output that costs ~nothing (y = Δ·u), and the GPT-NeoX step, at L = 2048."""
    res = {"device": torch.cuda.get_device_name() if T.DEV == "cuda" else "cpu"}
    cfg = copy.deepcopy(T.FULL)
    T.select_scan("triton" if T.DEV == "cuda" else "eager")
    fast = T.SCAN["fn"]
    for name, arch, fn in (("pythia", "pythia", None), ("mamba", "mamba", fast),
                           ("mamba_no_scan", "mamba", lambda u, dt, A, Bm, Cm, chunk=16: u * dt)):
        T.SCAN["fn"] = fn
        s, peak = step_time(arch, cfg, cfg["vocab"], 2048, n=a.steps)
        res[name] = {"s": round(s, 5), "peak_gib": round(peak, 2)}
        log(f"{name}: {s * 1e3:.1f} ms per step")
    T.SCAN["fn"] = fast
    res["scan_share"] = round(1 - res["mamba_no_scan"]["s"] / res["mamba"]["s"], 3)
    res["ratio"] = round(res["mamba"]["s"] / res["pythia"]["s"], 3)
    res["ratio_no_scan"] = round(res["mamba_no_scan"]["s"] / res["pythia"]["s"], 3)
    log(json.dumps(res))
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--out", default="scan_check.json")
    b = sub.add_parser("breakdown")
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--out", default="breakdown.json")
    t = sub.add_parser("toy")
    t.add_argument("--name", default="toy")
    t.add_argument("--arch", default="mamba", choices=T.ARCHS)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--d", type=int, default=256)
    t.add_argument("--state", type=int, default=16)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--tokens", type=int, default=16384)
    t.add_argument("--passkey-share", type=float, default=0.5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--seconds", type=float, default=300)
    t.add_argument("--eval-every", type=float, default=30)
    t.add_argument("--eval-n", type=int, default=48)
    t.add_argument("--eval-lengths", type=int, nargs="+", default=[256, 512, 1024])
    t.add_argument("--scan", default="triton", choices=["triton", "compile", "eager"])
    t.add_argument("--corpus", default=os.path.join(T.ROOT, ".corpus/corpus.jsonl.xz"))
    t.add_argument("--tokenizer", default=os.path.join(T.ROOT, "public/models/demo-mamba/tokenizer.json"))
    t.add_argument("--save", default=None, help="torch.save the final state dict here")
    t.add_argument("--out", default="toy.json")
    a = ap.parse_args(argv)
    {"check": cmd_check, "toy": cmd_toy, "breakdown": cmd_breakdown}[a.cmd](a)


if __name__ == "__main__":
    main()
