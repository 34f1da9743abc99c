"""The training path's selective scan and its gradients (issue 13 diagnosis: is demo-mamba's missing recall a bug in
what the optimiser sees?). lm_common.selective_scan (Hillis-Steele inside chunks, then across chunk ends) must give
the output and the gradients of the plain sequential recurrence

    h_t = exp(dt_t * A) * h_{t-1} + dt_t * B_t * u_t,   y_t = <h_t, C_t>

for every input, at lengths that are and are not multiples of the chunk and long enough for the carry across many
chunks; and one backward through our MambaLM must reach A_log, dt_proj.bias, D and x_proj with the gradients of a
sequential-scan forward. CPU, float64, Debian's torch.

    python3 -m unittest tools/tests/test_scan_grad.py -v
"""
import os
import sys
import unittest

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import lm_common as C  # noqa: E402


def sequential_scan(u, dt, A, Bm, Cm, chunk=None):
    """Reference: one step at a time. u, dt: (B, D, L); A: (D, N); Bm, Cm: (B, L, N) -> (B, D, L)."""
    Bsz, D, L = u.shape
    h = torch.zeros(Bsz, D, A.shape[1], dtype=u.dtype)
    ys = []
    for t in range(L):
        h = torch.exp(dt[:, :, t, None] * A[None]) * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bm[:, None, t, :]
        ys.append((h * Cm[:, None, t, :]).sum(-1))
    return torch.stack(ys, -1)


def inputs(Bsz, D, L, N, seed):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    u = r(Bsz, D, L)
    dt = torch.nn.functional.softplus(r(Bsz, D, L) - 2.0)  # like softplus(dt_proj(.) + bias): ~0.02 .. 1
    A = -torch.exp(r(D, N) * 0.5 + 0.5)
    return [t.requires_grad_() for t in (u, dt, A, r(Bsz, L, N), r(Bsz, L, N))]


class ChunkedScanMatchesSequential(unittest.TestCase):
    def check(self, L, chunk):
        xs = inputs(2, 3, L, 4, seed=L * 31 + chunk)
        w = torch.randn(2, 3, L, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        ys = C.selective_scan(*xs, chunk=chunk)
        grads = torch.autograd.grad((ys * w).sum(), xs)
        ref = sequential_scan(*xs)
        ref_grads = torch.autograd.grad((ref * w).sum(), xs)
        self.assertLess(float((ys - ref).abs().max()), 1e-10)
        for name, g, rg in zip(("u", "dt", "A", "B", "C"), grads, ref_grads):
            scale = float(rg.abs().max())
            if L > 1:  # at L = 1 the decay multiplies the zero initial state: dA = 0
                self.assertGreater(scale, 0.0, name)
            self.assertLess(float((g - rg).abs().max()), 1e-9 * max(1.0, scale), f"d/d{name} at L={L}, chunk={chunk}")

    def test_lengths(self):
        for L, chunk in ((1, 16), (7, 4), (16, 16), (37, 16), (64, 4), (300, 16)):
            with self.subTest(L=L, chunk=chunk):
                self.check(L, chunk)


class ModelGradientsReachTheSsm(unittest.TestCase):
    def test_mamba_lm_gradients_match_sequential(self):
        cfg = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "state_size": 4, "expand": 2,
               "conv_kernel": 4, "time_step_rank": 2, "layer_norm_epsilon": 1e-5}
        torch.manual_seed(0)
        model = C.MambaLM(cfg).double()
        ids = torch.randint(0, 50, (2, 40))
        grads = {}
        for name, scan in (("chunked", None), ("sequential", sequential_scan)):
            model.zero_grad()
            logits = model(ids[:, :-1], scan=scan)
            torch.nn.functional.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1)).backward()
            grads[name] = {k: p.grad.clone() for k, p in model.named_parameters()}
        for k, g in grads["sequential"].items():
            if any(s in k for s in ("A_log", "dt_proj", "x_proj", ".D", "conv1d", "in_proj")):
                self.assertGreater(float(g.abs().max()), 0.0, k)
            self.assertLess(float((grads["chunked"][k] - g).abs().max()), 1e-10 * max(1.0, float(g.abs().max())), k)


if __name__ == "__main__":
    unittest.main()
