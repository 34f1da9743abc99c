# Tiny from-scratch runs through the real training code path (T.make_batch masks/weights, T.Trainer.step loss,
# AdamW groups, schedule; eager chunked scan; T.score_probes eval), CPU fp32.
# usage: exp.py ARCH TASK L STEPS [key=value ...]   e.g. exp.py mamba passkey 64 1500 d=64 layers=2 lr=2e-3
from common import *
import time, copy
torch.set_num_threads(int(os.environ.get("NT", "1")))
arch, task, L, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kv = dict(a.split("=") for a in sys.argv[5:])
d, layers = int(kv.get("d", 64)), int(kv.get("layers", 2))
B = int(kv.get("B", 32))
tok = load_tok(); held = held_stream(tok); train = train_stream()
cfg = json.loads(json.dumps(T.FULL))
cfg.update({"tokens_per_step": B * L, "micro_tokens": {"mamba": B * L, "pythia": B * L},
            "curriculum": [[0.0, [L], [1]]], "synth_frac": float(kv.get("synth", 1.0)),
            "task_shares": {task: 1.0}, "answer_weight": float(kv.get("W", 10)), "lr": float(kv.get("lr", 2e-3)),
            "warmup": int(kv.get("warmup", 50)), "decay_frac": 0.0, "multikey_max": int(kv.get("kmax", 4)),
            "seed": int(kv.get("seed", 0))})
cfg["mamba"] = {"hidden_size": d, "num_hidden_layers": layers, "state_size": int(kv.get("N", 16)), "expand": 2, "conv_kernel": 4}
cfg["pythia"] = {"hidden_size": d, "num_hidden_layers": layers, "num_attention_heads": max(1, d // 32), "intermediate_size": 4 * d}
tasks = T.Tasks(tok, T.multikey_words(), cfg["answer_weight"], cfg["multikey_max"], cfg["passkey_digits"])
tr = T.Trainer(cfg, arch, None, tok.get_vocab_size(), {"step": 0, "plan": {"total_steps": steps}, "curve": [], "evals": []})
extra = {"k": int(kv["k"])} if task == "multikey" and "k" in kv else {}
probes = T.Probes.build(tasks, held, task, L, 64, 11, **extra)
name = f"{arch} {task} L{L} d{d}x{layers} " + " ".join(f"{k}={v}" for k, v in kv.items())
t0 = time.time(); acc = []
for st in range(steps):
    b = T.make_batch(cfg, tasks, train, st, steps)
    stats, gn, lr = tr.step(b, st)
    v = stats.tolist(); i = T.TASKS.index(task)
    acc.append(v[3 + 2 * i] / max(1, v[4 + 2 * i]))
    if (st + 1) % int(kv.get("every", 100)) == 0 or st + 1 == steps:
        tr.model.eval(); r = T.score_probes(tr.model, probes, delta=(arch == "mamba")); tr.model.train()
        dr = tr.drift() if arch == "mamba" else {}
        print(f"{name} | step {st+1} ans_loss {np.mean(acc):.3f} first {r['first']:.2f} rest {r['rest']:.2f} "
              f"exact {r['exact']:.2f} Δratio {r.get('delta_ratio')} drift {dr} gn {float(gn):.2f} ({time.time()-t0:.0f}s)", flush=True)
        acc = []
