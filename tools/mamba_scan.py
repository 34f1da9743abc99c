"""Mamba-1 selective scan for training: a chunked sequential scan with a hand-written backward, in two backends with
the same passes: plain torch (loops over the steps of a chunk; slow; the oracle, runs anywhere) and Triton (one
program per (batch row, chunk, block of channels); CUDA only). tools/train_demo.py uses the Triton backend when it
matches the reference scan of lm_common (forward and every gradient) on the GPU, else torch.compile of lm_common's.

Math (per channel d and state n; A < 0):
    h_t = exp(Δ_t A) h_{t-1} + Δ_t u_t B_t ,   y_t = Σ_n C_t,n h_t,n
Layout inside: u, Δ (B, L, D); B, C (B, L, N); A (D, N); L = nC chunks of T steps.
Forward passes:
    1 chunk_state    from h = 0 over each chunk: S_c = h at its end, P_c = exp(A ΣΔ over the chunk)
    2 chunk_combine  sequential over chunks: H_in,c = state before chunk c (H_in,0 = 0; H_in,c+1 = P_c H_in,c + S_c)
    3 chunk_out      each chunk again from H_in,c: y_t, and h_t saved (B, L, D, N) for the backward
Backward passes, G_t = dLoss/dh_t = C_t dy_t + exp(Δ_{t+1} A) G_{t+1}:
    4 chunk_state_bwd    reverse over each chunk from G = 0: Sb_c = exp(Δ_s A) G_s at its first step s
    5 chunk_combine_bwd  reverse over chunks: F_c = gradient entering chunk c from its end (F_last = 0;
                         F_c-1 = Sb_c + P_c F_c)
    6 chunk_grads        reverse over each chunk from F_c: G_t, then dΔ_t, du_t, partial dB_t, dC_t (per channel
                         block) and dA (per chunk), with h_{t-1}, h_t from the saved states
"""
import torch

try:  # Triton ships with CUDA builds of torch; absent on a CPU-only machine
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover
    triton = None


# ============================================================================= torch backend (the oracle)
def _torch_forward(u, dt, A, Bm, Cm, T):
    Bsz, L, D = u.shape
    nC = L // T
    uc, dtc = u.view(Bsz, nC, T, D), dt.view(Bsz, nC, T, D)
    Bc, Cc = Bm.view(Bsz, nC, T, -1), Cm.view(Bsz, nC, T, -1)
    N = A.shape[1]
    # 1 chunk states from zero
    h = u.new_zeros(Bsz, nC, D, N)
    for i in range(T):
        h = torch.exp(dtc[:, :, i, :, None] * A) * h + (dtc[:, :, i] * uc[:, :, i])[..., None] * Bc[:, :, i, None, :]
    S = h
    P = torch.exp(dtc.sum(2)[..., None] * A)
    # 2 combine
    Hin = torch.empty_like(S)
    carry = u.new_zeros(Bsz, D, N)
    for c in range(nC):
        Hin[:, c] = carry
        carry = P[:, c] * carry + S[:, c]
    # 3 outputs and saved states
    h = Hin.clone()
    y = torch.empty_like(uc)
    H = u.new_empty(Bsz, nC, T, D, N)
    for i in range(T):
        h = torch.exp(dtc[:, :, i, :, None] * A) * h + (dtc[:, :, i] * uc[:, :, i])[..., None] * Bc[:, :, i, None, :]
        y[:, :, i] = (h * Cc[:, :, i, None, :]).sum(-1)
        H[:, :, i] = h
    return y.view(Bsz, L, D), H.view(Bsz, L, D, N), Hin, P


def _torch_backward(dy, u, dt, A, Bm, Cm, H, Hin, P, T):
    Bsz, L, D = u.shape
    nC = L // T
    N = A.shape[1]
    uc, dtc, dyc = u.view(Bsz, nC, T, D), dt.view(Bsz, nC, T, D), dy.view(Bsz, nC, T, D)
    Bc, Cc = Bm.view(Bsz, nC, T, N), Cm.view(Bsz, nC, T, N)
    Hc = H.view(Bsz, nC, T, D, N)
    # 4 reverse chunk states from zero
    g = u.new_zeros(Bsz, nC, D, N)
    for i in reversed(range(T)):
        G = g + dyc[:, :, i, :, None] * Cc[:, :, i, None, :]
        g = torch.exp(dtc[:, :, i, :, None] * A) * G
    Sb = g
    # 5 reverse combine
    Fin = torch.empty_like(Sb)
    F = u.new_zeros(Bsz, D, N)
    for c in reversed(range(nC)):
        Fin[:, c] = F
        F = Sb[:, c] + P[:, c] * F
    # 6 gradients
    g = Fin.clone()
    du, ddt = torch.empty_like(uc), torch.empty_like(dtc)
    dB, dC = torch.empty_like(Bc), torch.empty_like(Cc)
    dA = torch.zeros_like(A)
    for i in reversed(range(T)):
        G = g + dyc[:, :, i, :, None] * Cc[:, :, i, None, :]
        h_prev = Hc[:, :, i - 1] if i > 0 else Hin
        dA_i = torch.exp(dtc[:, :, i, :, None] * A)
        ddA = G * h_prev * dA_i
        GB = (G * Bc[:, :, i, None, :]).sum(-1)
        ddt[:, :, i] = (ddA * A).sum(-1) + uc[:, :, i] * GB
        du[:, :, i] = dtc[:, :, i] * GB
        dB[:, :, i] = (G * (dtc[:, :, i] * uc[:, :, i])[..., None]).sum(2)
        dC[:, :, i] = (dyc[:, :, i, :, None] * Hc[:, :, i]).sum(2)
        dA += (ddA * dtc[:, :, i, :, None]).sum((0, 1))
        g = dA_i * G
    return du.view(Bsz, L, D), ddt.view(Bsz, L, D), dA, dB.view(Bsz, L, N), dC.view(Bsz, L, N)


# ============================================================================= Triton backend
if triton is not None:

    @triton.jit
    def _k_chunk_state(u_ptr, dt_ptr, b_ptr, a_ptr, s_ptr, p_ptr, L, D, nC,
                       T: tl.constexpr, BD: tl.constexpr, N: tl.constexpr):
        # one program: batch row b, chunk c, channels [pd*BD, pd*BD+BD); h (BD, N) from zero over the chunk
        b = tl.program_id(0).to(tl.int64)
        c = tl.program_id(1)
        pd = tl.program_id(2)
        od = pd * BD + tl.arange(0, BD)
        on = tl.arange(0, N)
        A = tl.load(a_ptr + od[:, None] * N + on[None, :])
        h = tl.zeros((BD, N), dtype=tl.float32)
        sdt = tl.zeros((BD,), dtype=tl.float32)
        for i in range(T):
            t = c * T + i
            dt = tl.load(dt_ptr + (b * L + t) * D + od)
            u = tl.load(u_ptr + (b * L + t) * D + od)
            Bt = tl.load(b_ptr + (b * L + t) * N + on)
            h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * Bt[None, :]
            sdt += dt
        o = ((b * nC + c) * D + od[:, None]) * N + on[None, :]
        tl.store(s_ptr + o, h)
        tl.store(p_ptr + o, tl.exp(sdt[:, None] * A))

    @triton.jit
    def _k_chunk_combine(s_ptr, p_ptr, hin_ptr, D, nC, BD: tl.constexpr, N: tl.constexpr, REVERSE: tl.constexpr):
        # forward: H_in,0 = 0, H_in,c+1 = P_c H_in,c + S_c; reverse: F_last = 0, F_c-1 = S_c + P_c F_c
        b = tl.program_id(0).to(tl.int64)
        pd = tl.program_id(1)
        od = pd * BD + tl.arange(0, BD)
        on = tl.arange(0, N)
        carry = tl.zeros((BD, N), dtype=tl.float32)
        for j in range(nC):
            if REVERSE:
                c = nC - 1 - j
            else:
                c = j
            o = ((b * nC + c) * D + od[:, None]) * N + on[None, :]
            tl.store(hin_ptr + o, carry)
            carry = tl.load(p_ptr + o) * carry + tl.load(s_ptr + o)

    @triton.jit
    def _k_chunk_out(u_ptr, dt_ptr, b_ptr, c_ptr, a_ptr, hin_ptr, y_ptr, h_ptr, L, D, nC,
                     T: tl.constexpr, BD: tl.constexpr, N: tl.constexpr):
        b = tl.program_id(0).to(tl.int64)
        c = tl.program_id(1)
        pd = tl.program_id(2)
        od = pd * BD + tl.arange(0, BD)
        on = tl.arange(0, N)
        A = tl.load(a_ptr + od[:, None] * N + on[None, :])
        h = tl.load(hin_ptr + ((b * nC + c) * D + od[:, None]) * N + on[None, :])
        for i in range(T):
            t = c * T + i
            dt = tl.load(dt_ptr + (b * L + t) * D + od)
            u = tl.load(u_ptr + (b * L + t) * D + od)
            Bt = tl.load(b_ptr + (b * L + t) * N + on)
            Ct = tl.load(c_ptr + (b * L + t) * N + on)
            h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * Bt[None, :]
            tl.store(y_ptr + (b * L + t) * D + od, tl.sum(h * Ct[None, :], axis=1))
            tl.store(h_ptr + ((b * L + t) * D + od[:, None]) * N + on[None, :], h)

    @triton.jit
    def _k_chunk_state_bwd(dy_ptr, dt_ptr, c_ptr, a_ptr, sb_ptr, L, D, nC,
                           T: tl.constexpr, BD: tl.constexpr, N: tl.constexpr):
        b = tl.program_id(0).to(tl.int64)
        c = tl.program_id(1)
        pd = tl.program_id(2)
        od = pd * BD + tl.arange(0, BD)
        on = tl.arange(0, N)
        A = tl.load(a_ptr + od[:, None] * N + on[None, :])
        g = tl.zeros((BD, N), dtype=tl.float32)
        for j in range(T):
            t = c * T + (T - 1 - j)
            dt = tl.load(dt_ptr + (b * L + t) * D + od)
            dy = tl.load(dy_ptr + (b * L + t) * D + od)
            Ct = tl.load(c_ptr + (b * L + t) * N + on)
            G = g + dy[:, None] * Ct[None, :]
            g = tl.exp(dt[:, None] * A) * G
        tl.store(sb_ptr + ((b * nC + c) * D + od[:, None]) * N + on[None, :], g)

    @triton.jit
    def _k_chunk_grads(dy_ptr, u_ptr, dt_ptr, b_ptr, c_ptr, a_ptr, h_ptr, hin_ptr, fin_ptr,
                       du_ptr, ddt_ptr, dbp_ptr, dcp_ptr, dap_ptr, L, D, nC, nD,
                       T: tl.constexpr, BD: tl.constexpr, N: tl.constexpr):
        b = tl.program_id(0).to(tl.int64)
        c = tl.program_id(1)
        pd = tl.program_id(2)
        od = pd * BD + tl.arange(0, BD)
        on = tl.arange(0, N)
        A = tl.load(a_ptr + od[:, None] * N + on[None, :])
        oc = ((b * nC + c) * D + od[:, None]) * N + on[None, :]
        g = tl.load(fin_ptr + oc)
        hin = tl.load(hin_ptr + oc)
        dAacc = tl.zeros((BD, N), dtype=tl.float32)
        h_t = tl.load(h_ptr + ((b * L + c * T + T - 1) * D + od[:, None]) * N + on[None, :])
        for j in range(T):
            i = T - 1 - j
            t = c * T + i
            dt = tl.load(dt_ptr + (b * L + t) * D + od)
            u = tl.load(u_ptr + (b * L + t) * D + od)
            dy = tl.load(dy_ptr + (b * L + t) * D + od)
            Bt = tl.load(b_ptr + (b * L + t) * N + on)
            Ct = tl.load(c_ptr + (b * L + t) * N + on)
            tp = tl.maximum(t - 1, c * T)  # h_{t-1}; at the chunk's first step the state entering it (below)
            h_prev = tl.load(h_ptr + ((b * L + tp) * D + od[:, None]) * N + on[None, :])
            h_prev = tl.where(i > 0, h_prev, hin)
            G = g + dy[:, None] * Ct[None, :]
            dA_i = tl.exp(dt[:, None] * A)
            ddA = G * h_prev * dA_i
            GB = tl.sum(G * Bt[None, :], axis=1)
            tl.store(ddt_ptr + (b * L + t) * D + od, tl.sum(ddA * A, axis=1) + u * GB)
            tl.store(du_ptr + (b * L + t) * D + od, dt * GB)
            # partial sums over this block of channels; summed over blocks by the caller
            tl.store(dbp_ptr + ((b * nD + pd) * L + t) * N + on, tl.sum(G * (dt * u)[:, None], axis=0))
            tl.store(dcp_ptr + ((b * nD + pd) * L + t) * N + on, tl.sum(dy[:, None] * h_t, axis=0))
            dAacc += ddA * dt[:, None]
            g = dA_i * G
            h_t = h_prev
        tl.store(dap_ptr + oc, dAacc)


def _triton_forward(u, dt, A, Bm, Cm, T, BD):
    Bsz, L, D = u.shape
    N = A.shape[1]
    nC, nD = L // T, D // BD
    S = u.new_empty(Bsz, nC, D, N)
    P = torch.empty_like(S)
    Hin = torch.empty_like(S)
    y = torch.empty_like(u)
    H = u.new_empty(Bsz, L, D, N)
    _k_chunk_state[(Bsz, nC, nD)](u, dt, Bm, A, S, P, L, D, nC, T=T, BD=BD, N=N, num_warps=2)
    _k_chunk_combine[(Bsz, nD)](S, P, Hin, D, nC, BD=BD, N=N, REVERSE=False, num_warps=2)
    _k_chunk_out[(Bsz, nC, nD)](u, dt, Bm, Cm, A, Hin, y, H, L, D, nC, T=T, BD=BD, N=N, num_warps=2)
    return y, H, Hin, P


def _triton_backward(dy, u, dt, A, Bm, Cm, H, Hin, P, T, BD):
    Bsz, L, D = u.shape
    N = A.shape[1]
    nC, nD = L // T, D // BD
    Sb = u.new_empty(Bsz, nC, D, N)
    Fin = torch.empty_like(Sb)
    _k_chunk_state_bwd[(Bsz, nC, nD)](dy, dt, Cm, A, Sb, L, D, nC, T=T, BD=BD, N=N, num_warps=2)
    _k_chunk_combine[(Bsz, nD)](Sb, P, Fin, D, nC, BD=BD, N=N, REVERSE=True, num_warps=2)
    du, ddt = torch.empty_like(u), torch.empty_like(dt)
    dBp = u.new_empty(Bsz, nD, L, N)
    dCp = torch.empty_like(dBp)
    dAp = torch.empty_like(Sb)
    _k_chunk_grads[(Bsz, nC, nD)](dy, u, dt, Bm, Cm, A, H, Hin, Fin, du, ddt, dBp, dCp, dAp, L, D, nC, nD,
                                  T=T, BD=BD, N=N, num_warps=2)
    return du, ddt, dAp.sum((0, 1)), dBp.sum(1), dCp.sum(1)


# ============================================================================= autograd
class _ChunkedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, dt, A, Bm, Cm, T, BD, backend):
        # (B, D, L) -> (B, L, D) contiguous; everything fp32
        u_, dt_ = u.transpose(1, 2).float().contiguous(), dt.transpose(1, 2).float().contiguous()
        A_, B_, C_ = A.float().contiguous(), Bm.float().contiguous(), Cm.float().contiguous()
        if backend == "triton":
            y, H, Hin, P = _triton_forward(u_, dt_, A_, B_, C_, T, BD)
        else:
            y, H, Hin, P = _torch_forward(u_, dt_, A_, B_, C_, T)
        ctx.save_for_backward(u_, dt_, A_, B_, C_, H, Hin, P)
        ctx.cfg = (T, BD, backend, u.dtype, dt.dtype, A.dtype, Bm.dtype, Cm.dtype)
        return y.transpose(1, 2).to(u.dtype)

    @staticmethod
    def backward(ctx, dy):
        u_, dt_, A_, B_, C_, H, Hin, P = ctx.saved_tensors
        T, BD, backend, tu, tdt, tA, tB, tC = ctx.cfg
        dy_ = dy.transpose(1, 2).float().contiguous()
        if backend == "triton":
            du, ddt, dA, dB, dC = _triton_backward(dy_, u_, dt_, A_, B_, C_, H, Hin, P, T, BD)
        else:
            du, ddt, dA, dB, dC = _torch_backward(dy_, u_, dt_, A_, B_, C_, H, Hin, P, T)
        return (du.transpose(1, 2).to(tu), ddt.transpose(1, 2).to(tdt), dA.to(tA), dB.to(tB), dC.to(tC),
                None, None, None)


def _pad_to(x, dim, size, value=0.0):
    n = x.shape[dim]
    if n == size:
        return x
    pad = [0, 0] * (x.ndim - 1 - dim) + [0, size - n]
    return torch.nn.functional.pad(x, pad, value=value)


def make_scan(backend="triton", T=64, BD=16, fallback=None):
    """A drop-in for lm_common.selective_scan(u, dt, A, Bm, Cm, chunk) -> y: u, dt (B, D, L); A (D, N); Bm, Cm
    (B, L, N). Any shape: L is padded to a multiple of T, D to a multiple of BD and N to a power of two, with
    entries that change nothing (u = Δ = 0 after the end and in the extra channels: exp(0·A) = 1 keeps the state,
    Δ·B·u = 0 adds nothing; B = C = 0 and A = -1 in the extra states), and the outputs and gradients are sliced
    back, so the padded scan is exact. `fallback` is unused (kept for callers of the older signature)."""

    def scan(u, dt, A, Bm, Cm, chunk=16):
        Bsz, D, L = u.shape
        N = A.shape[1]
        Lp, Dp, Np = -(-L // T) * T, -(-D // BD) * BD, 1 << max(0, (N - 1).bit_length())
        if (Lp, Dp, Np) == (L, D, N):
            return _ChunkedScan.apply(u, dt, A, Bm, Cm, T, BD, backend)
        u_ = _pad_to(_pad_to(u, 2, Lp), 1, Dp)
        dt_ = _pad_to(_pad_to(dt, 2, Lp), 1, Dp)
        A_ = _pad_to(_pad_to(A, 1, Np, -1.0), 0, Dp, -1.0)
        B_ = _pad_to(_pad_to(Bm, 2, Np), 1, Lp)
        C_ = _pad_to(_pad_to(Cm, 2, Np), 1, Lp)
        y = _ChunkedScan.apply(u_, dt_, A_, B_, C_, T, BD, backend)
        return y[:, :D, :L]

    scan.backend = backend
    return scan


def check_against_reference(scan, shapes, device, tol=2e-3, seed=0, ref_dtype=torch.float64):
    """Forward and every gradient of `scan` (fp32 inputs) vs lm_common.selective_scan computed in `ref_dtype`
    (float64 by default; autograd through the reference) on random inputs of realistic ranges.
    Returns {shape: max relative error}; raises AssertionError past tol."""
    import lm_common as C

    out = {}
    g = torch.Generator(device="cpu").manual_seed(seed)
    for (Bsz, D, L, N) in shapes:
        u = torch.randn(Bsz, D, L, generator=g)
        dt = torch.nn.functional.softplus(torch.randn(Bsz, D, L, generator=g) - 3.0)  # Δ around 0.05, up to ~1
        A = -torch.exp(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(D, 1) + 0.1 * torch.randn(D, N, generator=g))
        Bm, Cm = torch.randn(Bsz, L, N, generator=g), torch.randn(Bsz, L, N, generator=g)
        dy = torch.randn(Bsz, D, L, generator=g)
        res = []
        for fn, dtype in ((C.selective_scan, ref_dtype), (scan, torch.float32)):
            xs = [t.clone().to(device=device, dtype=dtype).requires_grad_(True) for t in (u, dt, A, Bm, Cm)]
            y = fn(*xs, chunk=16)
            y.backward(dy.to(device=device, dtype=dtype))
            res.append([y.detach().double().cpu()] + [x.grad.detach().double().cpu() for x in xs])
        errs = {}
        for name, a, b in zip(("y", "du", "ddt", "dA", "dB", "dC"), res[0], res[1]):
            errs[name] = float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
        out[f"{Bsz}x{D}x{L}x{N}"] = errs
        bad = {k: v for k, v in errs.items() if not v < tol}
        if bad:
            raise AssertionError(f"chunked scan ({getattr(scan, 'backend', '?')}) differs from the reference at {(Bsz, D, L, N)}: {errs}")
    return out
