# Does the shipped model use context beyond a few tokens? Per-position held-out loss, and Mamba with the SSM state
# removed (y = D*u only: conv + gating path) vs the full model.
from common import *
torch.set_num_threads(2)
tok = load_tok(); held = held_stream(tok)
L, n = 512, 12
rng = np.random.default_rng([99, L])
xs = np.stack([held[o:o + L + 1] for o in rng.integers(0, len(held) - L - 2, size=n)])
xb = torch.from_numpy(xs).long()
def pos_loss(m, scan=None):
    with torch.no_grad():
        lg = m(xb[:, :-1], scan=scan) if scan else m(xb[:, :-1])
    ce = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), xb[:, 1:].reshape(-1), reduction="none").view(n, L)
    return ce.mean(0).numpy()
bins = [(0, 4), (4, 16), (16, 64), (64, 128), (128, 256), (256, 512)]
def show(name, c):
    print(f"{name:28s} all {c.mean():.3f} " + " ".join(f"[{a},{b}) {c[a:b].mean():.3f}" for a, b in bins), flush=True)
for arch in ["pythia", "mamba"]:
    m = load_model(arch)
    show(arch, pos_loss(m))
    if arch == "mamba":
        def no_state(u, dt, A, Bm, Cm, chunk=16):
            return torch.zeros_like(u)
        show("mamba, SSM state removed", pos_loss(m, no_state))
        def short_state(u, dt, A, Bm, Cm, chunk=16):  # state reset every 16 tokens
            Bsz, D, Lx = u.shape
            return torch.cat([C.selective_scan(u[..., i:i+16], dt[..., i:i+16], A, Bm[:, i:i+16], Cm[:, i:i+16], chunk=16) for i in range(0, Lx, 16)], -1)
        show("mamba, state reset /16 tok", pos_loss(m, short_state))
