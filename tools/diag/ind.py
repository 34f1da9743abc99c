# Sanity check of the Mamba module/scan/optimizer on a task Mamba is known to learn (Gu & Dao 2023, induction heads /
# associative recall): rows of random tokens (vocab V) where a random segment of S tokens is repeated later; loss only
# on the repeated segment after its first token (what an induction head predicts). Same optimizer groups and
# AdamW settings as train_demo. usage: ind.py ARCH STEPS [key=value]
from common import *
import time
torch.set_num_threads(1)
arch, steps = sys.argv[1], int(sys.argv[2])
kv = dict(a.split("=") for a in sys.argv[3:])
V, L, S, B, d, layers = (int(kv.get(k, v)) for k, v in (("V", 32), ("L", 64), ("S", 8), ("B", 32), ("d", 64), ("layers", 2)))
cfg = json.loads(json.dumps(T.FULL)); cfg["lr"] = float(kv.get("lr", 2e-3)); cfg["warmup"] = 50; cfg["decay_frac"] = 0.0
cfg["mamba"] = {"hidden_size": d, "num_hidden_layers": layers, "state_size": 16, "expand": 2, "conv_kernel": 4}
cfg["pythia"] = {"hidden_size": d, "num_hidden_layers": layers, "num_attention_heads": max(1, d // 32), "intermediate_size": 4 * d}
model = T.build_model(cfg, arch, V); opt = T.make_optimizer(model, cfg)
def batch(rng, n):
    x = rng.integers(1, V, size=(n, L + 1)); w = np.zeros((n, L), np.float32)
    for i in range(n):
        a = int(rng.integers(0, L // 2 - S)); b = int(rng.integers(a + S + 1, L + 1 - S))
        x[i, b:b + S] = x[i, a:a + S]
        w[i, b:b + S - 1] = 1.0  # targets x[b+1 .. b+S-1] are predicted at positions b .. b+S-2
    return torch.from_numpy(x).long(), torch.from_numpy(w)
ev = batch(np.random.default_rng(123), 128)
t0 = time.time(); rng = np.random.default_rng(0)
for st in range(steps):
    for g in opt.param_groups: g["lr"] = T.lr_at(cfg, st, steps)
    x, w = batch(rng, B)
    lg = model(x[:, :-1])
    ce = torch.nn.functional.cross_entropy(lg.reshape(-1, V), x[:, 1:].reshape(-1), reduction="none").view(B, L)
    loss = (ce * w).sum() / w.sum(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
    if (st + 1) % int(kv.get("every", 100)) == 0:
        with torch.no_grad():
            lg = model(ev[0][:, :-1]); m = ev[1] > 0
            acc = (lg.argmax(-1) == ev[0][:, 1:])[m].float().mean()
        print(f"{arch} induction V{V} L{L} S{S} d{d}x{layers} lr {cfg['lr']} | step {st+1} loss {float(loss):.3f} acc {float(acc):.3f} (chance {1/(V-1):.3f}) ({time.time()-t0:.0f}s)", flush=True)
