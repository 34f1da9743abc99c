# Replays exact training batches (make_batch is a function of the step) through the shipped weights in fp32 with the
# eager scan, and compares with the logged training losses (bf16 autocast, compiled scan on the H200).
from common import *
import time
torch.set_num_threads(2)
tok = load_tok(); train = train_stream()
arch = sys.argv[1]; steps = [int(s) for s in sys.argv[2].split(",")]
lg = json.load(open(MD + f"/demo-{arch}/train_log.json"))
cfg = lg["settings"]; N = lg["plan"]["total_steps"]
tasks = T.Tasks(tok, T.multikey_words(), cfg["answer_weight"], cfg["multikey_max"], cfg["passkey_digits"])
m = load_model(arch)
for st in steps:
    b = T.make_batch(cfg, tasks, train, st, N)
    ids = torch.from_numpy(b["ids"]); w = torch.from_numpy(b["w"]); ans = torch.from_numpy(b["ans"])
    R = int(os.environ.get("ROWS", "16")); ids, w, ans = ids[:R], w[:R], ans[:R]; b["task"] = b["task"][:R]
    B, L = w.shape; ces = []
    t0 = time.time()
    for s in range(0, B, 4):
        with torch.no_grad(): lo = m(ids[s:s+4, :-1])
        ces.append(torch.nn.functional.cross_entropy(lo.reshape(-1, lo.shape[-1]), ids[s:s+4, 1:].reshape(-1), reduction="none").view(-1, L))
    ce = torch.cat(ces)
    lm = (w == 1).float()
    out = {"lm": float((ce * lm).sum() / lm.sum())}
    for i, t in enumerate(T.TASKS):
        sel = (torch.from_numpy(b["task"]) == i)[:, None] & ans
        if sel.any(): out[t] = float(ce[sel].mean())
    ent = [c for c in lg["curve"] if c["step"] == st + 1]
    print(arch, "step", st + 1, "L", L, "replay fp32 eager:", {k: round(v, 4) for k, v in out.items()}, f"({time.time()-t0:.0f}s)", flush=True)
