"""Shared helpers for tools/make_golden.py and tools/train_demo.py.

* byte-level BPE tokenizer in the GPT-NeoX tokenizer.json style (tokenizers library),
* an independent, chunked-parallel implementation of the Mamba-1 forward pass that
  reads the parameters of a transformers MambaForCausalLM (used to train fast without
  the mamba-ssm CUDA kernels, and as a cross-check for the golden logits),
* our own modules with transformers' parameter names: MambaLM, Mamba2LM (the chunked SSD in matmuls), NeoXLM,
* JSON helpers.
"""
import json
import math
import os

import torch

EOT = "<|endoftext|>"


# --------------------------------------------------------------------------- tokenizer
DIGIT_SPLIT_REGEX = "[0-9]"


def train_bpe_tokenizer(texts, vocab_size, min_frequency=2, split_digits=False):
    """Byte-level BPE like GPT-NeoX: NFC normalizer, ByteLevel pre-tokenizer (no prefix
    space, GPT-2 regex), ByteLevel post-processor and decoder, <|endoftext|> = id 0.
    split_digits: first isolate every ASCII digit (a Split pre-tokenizer on the regex [0-9],
    behaviour "isolated", in a Sequence before ByteLevel), so each digit is one token and
    " 71432" encodes as "Ġ" "7" "1" "4" "3" "2". An explicit [0-9] rather than the Digits
    pre-tokenizer: Rust's Digits isolates every Unicode numeric character (char::is_numeric)
    while @huggingface/tokenizers' Digits only matches \\d (ASCII), so only [0-9] encodes
    identically in Python and on the page."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if split_digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(DIGIT_SPLIT_REGEX), behavior="isolated", invert=False), byte_level]
        )
    else:
        tok.pre_tokenizer = byte_level
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.token_to_id(EOT) == 0, "special token must be id 0"
    assert tok.get_vocab_size() == vocab_size, (tok.get_vocab_size(), vocab_size)
    return tok


def save_tokenizer(tok, out_dir, model_max_length=2048):
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    save_tokenizer_config(out_dir, model_max_length)


def save_tokenizer_config(out_dir, model_max_length=2048):
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOT,
        "eos_token": EOT,
        "unk_token": EOT,
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


TOKENIZER_CASES = [
    "Hello world",
    "  two  spaces,\ttab and\nnewline\n\n",
    "The pass key is 48213. Remember it.",
    "naïve café — 東京 😀 Ünïcödé",
    "numbers 0 12 345 6789 3.14159 -42 1e-5",
    "a<|endoftext|>b",
    "def f(x):\n    return x ** 2  # comment",
]


def tokenizer_cases(tok):
    out = []
    for t in TOKENIZER_CASES:
        ids = tok.encode(t).ids
        out.append({"text": t, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    return out


# --------------------------------------------------------------------------- json
def r7(values):
    """Round a flat iterable of floats to 7 significant digits."""
    return [float(f"{float(v):.7g}") for v in values]


def dump_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))


# --------------------------------------------------------------------------- mamba
def _shift_right(x, k, dim, fill):
    """x shifted by k along dim (towards higher indices), first k entries = fill."""
    import torch

    n = x.shape[dim]
    head = torch.full_like(x.narrow(dim, 0, k), fill)
    return torch.cat([head, x.narrow(dim, 0, n - k)], dim=dim)


def _hs_scan(a, b, dim):
    """Inclusive scan of h_t = a_t * h_{t-1} + b_t (h_{-1} = 0) along dim (Hillis-Steele,
    log2(n) steps). Returns (A, H): A_t = prod_{s<=t} a_s, H_t = h_t."""
    import torch

    n = a.shape[dim]
    k = 1
    while k < n:
        b = torch.addcmul(b, a, _shift_right(b, k, dim, 0.0))
        a = a * _shift_right(a, k, dim, 1.0)
        k *= 2
    return a, b


def selective_scan(u, dt, A, Bm, Cm, chunk=16):
    """Mamba-1 selective scan.
    u, dt: (B, D, L) ; A: (D, N) (negative) ; Bm, Cm: (B, L, N) -> y: (B, D, L), where
    h_t = exp(dt_t * A) * h_{t-1} + dt_t * Bm_t * u_t ;  y_t = <h_t, Cm_t>.
    Two-level scan: Hillis-Steele inside chunks, then across chunk ends."""
    import torch
    import torch.nn.functional as F

    Bsz, D, L = u.shape
    N = A.shape[1]
    T = chunk
    pad = (-L) % T
    dA = torch.exp(dt.unsqueeze(-1) * A[None, :, None, :])  # (B, D, L, N)
    dBu = (dt * u).unsqueeze(-1) * Bm[:, None, :, :]  # (B, D, L, N)
    if pad:
        dA = F.pad(dA, (0, 0, 0, pad), value=1.0)
        dBu = F.pad(dBu, (0, 0, 0, pad), value=0.0)
    nc = (L + pad) // T
    a = dA.reshape(Bsz, D, nc, T, N)
    b = dBu.reshape(Bsz, D, nc, T, N)
    a, b = _hs_scan(a, b, dim=3)  # within chunks, starting from zero state
    if nc > 1:
        a_end = a[:, :, :, -1]  # (B, D, nc, N)
        b_end = b[:, :, :, -1]
        _, h_end = _hs_scan(a_end, b_end, dim=2)  # state at the end of each chunk
        carry = _shift_right(h_end, 1, 2, 0.0)  # state before each chunk
        b = torch.addcmul(b, a, carry.unsqueeze(3))
    h = b.reshape(Bsz, D, nc * T, N)[:, :, :L]
    return (h * Cm[:, None, :, :]).sum(-1)


def mamba_mixer_fast(m, x, chunk=16, scan=None, collect=None):
    """Same math as transformers' MambaMixer.slow_forward without cache (x: (B, L, d)).
    collect: a list to which the step size Δ = softplus(dt_proj(dt)) averaged over channels, (B, L) float32, is
    appended (the selectivity view's quantity)."""
    import torch
    import torch.nn.functional as F

    sd = torch.float64 if m.A_log.dtype == torch.float64 else torch.float32
    L = x.shape[1]
    proj = m.in_proj(x).transpose(1, 2)  # (B, 2*Di, L)
    hs, gate = proj.chunk(2, dim=1)
    hs = m.act(m.conv1d(hs)[..., :L])  # (B, Di, L)
    ssm = m.x_proj(hs.transpose(1, 2))  # (B, L, R + 2N)
    dt, Bm, Cm = torch.split(ssm, [m.time_step_rank, m.ssm_state_size, m.ssm_state_size], dim=-1)
    dt = F.softplus(m.dt_proj(dt)).transpose(1, 2).to(sd)  # (B, Di, L)
    if collect is not None:
        collect.append(dt.detach().float().mean(1))
    A = -torch.exp(m.A_log.to(sd))
    y = (scan or selective_scan)(hs.to(sd), dt, A, Bm.to(sd), Cm.to(sd), chunk=chunk)
    y = y + hs.to(sd) * m.D.to(sd)[None, :, None]
    y = y * m.act(gate.to(sd))
    return m.out_proj(y.transpose(1, 2).to(m.out_proj.weight.dtype))


def mamba_logits_fast(model, input_ids, chunk=16, scan=None, collect=None):
    """Full MambaForCausalLM forward (no cache) using mamba_mixer_fast (collect: see there, one entry per layer)."""
    import torch

    bb = model.backbone
    h = bb.embeddings(input_ids)
    for layer in bb.layers:
        residual = h
        x = layer.norm(h.to(layer.norm.weight.dtype))
        if layer.residual_in_fp32 and residual.dtype != torch.float64:
            residual = residual.to(torch.float32)
        h = residual + mamba_mixer_fast(layer.mixer, x, chunk=chunk, scan=scan, collect=collect)
    h = bb.norm_f(h)
    return model.lm_head(h.to(model.lm_head.weight.dtype))


def count_params(model):
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n += p.numel()
    return n


def hf_forward(model, arch, input_ids, **kw):
    """transformers forward returning logits in the model's dtype. MambaForCausalLM.forward
    ends with `.float()`, which would turn float64 logits into float32, so the base model is
    called and the LM head applied here (arch: "mamba" or "pythia").
    Returns (logits, base-model outputs incl. cache_params / past_key_values)."""
    base = getattr(model, model.base_model_prefix)  # .backbone (Mamba) / .gpt_neox (GPT-NeoX)
    head = model.get_output_embeddings()  # lm_head (Mamba); embed_out or lm_head (GPT-NeoX)
    out = base(input_ids, **kw)
    return head(out.last_hidden_state.to(head.weight.dtype)), out


def safetensors_keys(folder):
    """{file: {tensor name: [dtype, shape]}} read from the safetensors headers."""
    import struct

    res = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith(".safetensors"):
            with open(os.path.join(folder, f), "rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
                hdr = json.loads(fh.read(n))
            res[f] = {k: [v["dtype"], v["shape"]] for k, v in hdr.items() if k != "__metadata__"}
    return res


# --------------------------------------------------------------------------- own modules
# Plain-torch versions of transformers' MambaForCausalLM and GPTNeoXForCausalLM with the very same parameter
# names (so a state_dict loads into the transformers class with strict=True, and save_pretrained writes what the
# page loads). tools/train_demo.py trains these (fast paths: the chunked scan below, SDPA attention) and checks them
# against transformers' own forward on the GPU machine; they need no transformers, so the training loop can be
# tested on a CPU with Debian's torch.
class RMSNorm(torch.nn.Module):
    """MambaRMSNorm: weight * x / sqrt(mean(x^2) + eps), computed in float32 (float64 stays float64)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, x):
        dt = x.dtype
        h = x.to(torch.float64 if dt == torch.float64 else torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dt)


class MambaMixer(torch.nn.Module):
    """Mamba-1 mixer, transformers' MambaMixer parameters: in_proj (x, z), causal depthwise conv1d, x_proj -> (dt, B, C),
    dt_proj (+ bias), A_log (d_inner x N), D, out_proj. Forward: mamba_mixer_fast."""

    def __init__(self, d_model, d_inner, d_state, dt_rank, d_conv):
        super().__init__()
        nn = torch.nn
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        self.act = nn.SiLU()
        self.time_step_rank = dt_rank
        self.ssm_state_size = d_state


class MambaBlock(torch.nn.Module):
    def __init__(self, d_model, d_inner, d_state, dt_rank, d_conv, eps):
        super().__init__()
        self.norm = RMSNorm(d_model, eps)
        self.mixer = MambaMixer(d_model, d_inner, d_state, dt_rank, d_conv)
        self.residual_in_fp32 = True


class MambaBackbone(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, di = cfg["hidden_size"], cfg["expand"] * cfg["hidden_size"]
        self.embeddings = torch.nn.Embedding(cfg["vocab_size"], d)
        self.layers = torch.nn.ModuleList(
            MambaBlock(d, di, cfg["state_size"], cfg["time_step_rank"], cfg["conv_kernel"], cfg["layer_norm_epsilon"])
            for _ in range(cfg["num_hidden_layers"])
        )
        self.norm_f = RMSNorm(d, cfg["layer_norm_epsilon"])


class MambaLM(torch.nn.Module):
    """MambaForCausalLM (tied embeddings) with the chunked-scan forward of mamba_logits_fast."""

    arch = "mamba"

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.backbone = MambaBackbone(cfg)
        self.lm_head = torch.nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.backbone.embeddings.weight  # tied

    def forward(self, input_ids, scan=None, chunk=16, collect=None):
        return mamba_logits_fast(self, input_ids, chunk=chunk, scan=scan, collect=collect)


# --------------------------------------------------------------------------- mamba-2 (SSD)
# Mamba-2 (Dao & Gu 2024, "Transformers are SSMs": state space duality), transformers' Mamba2ForCausalLM parameters.
# Glossary (code name: paper symbol, meaning):
#   b: batch, l: sequence length (T in the paper), d: d_model (hidden_size), d_in = expand * d = h * p
#   h: heads (num_heads), p: head dim (head_dim, P), n: state size per head channel (state_size, N)
#   g: groups (n_groups): B and C are shared by the h / g heads of a group (head i uses group i // (h / g))
#   Q: chunk length (chunk_size), c: chunks = ceil(l / Q), k: conv kernel (conv_kernel)
#   x: X the SSM input, z: the gate, dt: Δ (one per head and step), A: a scalar per head (A = -exp(A_log) < 0),
#   B, C: (b, l, g, n) the state's input / output maps, D: the skip per head, S: the state of a head, (p, n)
# Recurrence per head (the SSM with a scalar A, "SSD"):
#   S_t = exp(Δ_t A) S_{t-1} + Δ_t x_t B_tᵀ ,   y_t = S_t C_t + D x_t
# Chunked form (the paper's block decomposition of the semiseparable matrix, section 6), per head, a_t = Δ_t A:
#   1 diagonal blocks:    y_i = Σ_{j ≤ i, same chunk} (C_i · B_j) exp(a_{j+1} + … + a_i) Δ_j x_j
#   2 chunk states:       S_c = Σ_{j in c} exp(a_{j+1} + … + a_end) Δ_j x_j B_jᵀ           (from a zero state)
#   3 state passing:      H_c = state entering chunk c = Σ_{c' < c} exp(Σ of a over chunks c'+1 … c-1) S_c'
#   4 off-diagonal:       y_i += exp(a_start + … + a_i) H_c C_i
# Steps 1, 2 and 4 are batched matrix products; step 3 is a (c+1) x (c+1) decay matrix times the chunk states.
def segsum(a):
    """a (..., T) -> (..., T, T): out[i, j] = a_{j+1} + … + a_i for i >= j (0 on the diagonal), -inf above it.
    Each segment's sum is accumulated directly (a cumulative sum of a masked copy), not taken as a difference of two
    prefix sums, which loses digits once the prefix sums are large (long sequences, strong decay)."""
    T = a.shape[-1]
    x = a[..., :, None].expand(*a.shape, T)  # (..., T, T): x[k, j] = a_k
    below = torch.ones(T, T, dtype=torch.bool, device=a.device).tril(-1)  # k > j
    x = x.masked_fill(~below, 0.0).cumsum(-2)  # out[i, j] = Σ_{j < k ≤ i} a_k
    return x.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=a.device).tril(), float("-inf"))


def ssd_chunked(x, dt, A, B, C, chunk, initial_state=None):
    """The SSD scan in chunks of Q = chunk steps, all in matrix products (see the comment above).
    x (b, l, h, p), dt (b, l, h) (Δ after softplus and limits), A (h,), B, C (b, l, g, n), initial_state (b, h, p, n)
    -> y (b, l, h, p) without the D skip, final state (b, h, p, n).
    Runs in float32 (float64 stays float64) with autocast off, whatever the dtype of the inputs: the state, the decays
    and their products never see bf16. Q need not divide l (zero Δ pads the last chunk: no decay, no input)."""
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    assert h % g == 0, (h, g)
    r = h // g  # heads per group
    Q = int(chunk)
    f = torch.float64 if x.dtype == torch.float64 else torch.float32
    with torch.autocast(x.device.type, enabled=False):
        x, dt, A, B, C = x.to(f), dt.to(f), A.to(f), B.to(f), C.to(f)
        pad = (-l) % Q
        if pad:
            F = torch.nn.functional
            x = F.pad(x, (0, 0, 0, 0, 0, pad))
            dt = F.pad(dt, (0, 0, 0, pad))
            B = F.pad(B, (0, 0, 0, 0, 0, pad))
            C = F.pad(C, (0, 0, 0, 0, 0, pad))
        c = (l + pad) // Q
        xdt = (x * dt[..., None]).reshape(b, c, Q, h, p).permute(0, 1, 3, 2, 4)  # (b, c, h, Q, p)  Δ x
        a = (dt * A).reshape(b, c, Q, h).permute(0, 1, 3, 2)  # (b, c, h, Q)  Δ A, ≤ 0
        Bc = B.reshape(b, c, Q, g, n).permute(0, 1, 3, 2, 4)  # (b, c, g, Q, n)
        Cc = C.reshape(b, c, Q, g, n).permute(0, 1, 3, 2, 4)  # (b, c, g, Q, n)
        acum = a.cumsum(-1)  # (b, c, h, Q)  a_start + … + a_i
        Lm = torch.exp(segsum(a))  # (b, c, h, Q, Q)  decay from step j to step i, 0 for j > i
        # 1 diagonal blocks: (C Bᵀ ∘ L) (Δ x), C Bᵀ once per group
        CB = Cc @ Bc.transpose(-1, -2)  # (b, c, g, Q, Q)
        M = (CB[:, :, :, None] * Lm.reshape(b, c, g, r, Q, Q)).reshape(b, c, h, Q, Q)  # (b, c, h, Q, Q)
        y = M @ xdt  # (b, c, h, Q, p)
        # 2 chunk states from zero: Σ_j decay(j -> chunk end) Δ_j x_j B_jᵀ
        to_end = Lm[..., -1, :]  # (b, c, h, Q)  exp(a_{j+1} + … + a_end)
        xw = (xdt * to_end[..., None]).transpose(-1, -2).reshape(b, c, g, r, p, Q)  # (b, c, g, r, p, Q)
        S = (xw @ Bc[:, :, :, None]).reshape(b, c, h, p, n)  # (b, c, h, p, n)
        # 3 state passing: H_z = Σ_{c' ≤ z} exp(segment sum of chunk totals) S_all[c'], S_all = [initial, S_0 … S_c-1]
        S0 = x.new_zeros(b, 1, h, p, n) if initial_state is None else initial_state.to(f)[:, None]  # (b, 1, h, p, n)
        S_all = torch.cat([S0, S], 1).permute(0, 2, 1, 3, 4).reshape(b, h, c + 1, p * n)  # (b, h, c+1, p n)
        tot = torch.nn.functional.pad(acum[..., -1].transpose(1, 2), (1, 0))  # (b, h, c+1)  [0, total of each chunk]
        Hs = (torch.exp(segsum(tot)) @ S_all).reshape(b, h, c + 1, p, n)  # (b, h, c+1, p, n)  state entering chunk z
        H_in, final = Hs[:, :, :-1], Hs[:, :, -1]  # (b, h, c, p, n), (b, h, p, n)
        # 4 off-diagonal blocks: exp(a_start + … + a_i) C_i · H_c
        Hg = H_in.permute(0, 2, 1, 4, 3).reshape(b, c, g, r, n, p)  # (b, c, g, r, n, p)
        y_off = (Cc[:, :, :, None] @ Hg).reshape(b, c, h, Q, p)  # (b, c, h, Q, p)
        y = y + y_off * torch.exp(acum)[..., None]  # (b, c, h, Q, p)
        y = y.permute(0, 1, 3, 2, 4).reshape(b, c * Q, h, p)[:, :l]  # (b, l, h, p)
    return y, final


def ssd_sequential(x, dt, A, B, C, initial_state=None):
    """The SSD recurrence step by step (the oracle of ssd_chunked; slow): same arguments and results, float64 in,
    float64 out."""
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    grp = torch.arange(h, device=x.device) // (h // g)  # (h,) group of each head
    S = x.new_zeros(b, h, p, n) if initial_state is None else initial_state  # (b, h, p, n)
    ys = []
    for t in range(l):
        Bt, Ct = B[:, t][:, grp], C[:, t][:, grp]  # (b, h, n)
        dA = torch.exp(dt[:, t] * A)  # (b, h)
        S = dA[..., None, None] * S + (dt[:, t, :, None] * x[:, t])[..., None] * Bt[:, :, None, :]  # (b, h, p, n)
        ys.append((S * Ct[:, :, None, :]).sum(-1))  # (b, h, p)
    return torch.stack(ys, 1), S


def json_float(v):
    """A float from config.json: transformers 5 writes infinity as {"__float__": "Infinity"}."""
    if isinstance(v, dict) and "__float__" in v:
        return float(v["__float__"])
    return float(v)


class GatedRMSNorm(torch.nn.Module):
    """mamba_ssm's RMSNormGated(norm_before_gate=False, group_size = d_in / g): the gate first, y ⊙ SiLU(z), then an
    RMS norm over each group of d_in / g channels, times weight; in float32 (float64 stays). With g = 1 it is
    transformers' MambaRMSNormGated (which normalises over all of d_in whatever g is)."""

    def __init__(self, d, groups, eps):
        super().__init__()
        assert d % groups == 0, (d, groups)
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.groups, self.variance_epsilon = groups, eps

    def forward(self, y, z):
        dt = y.dtype
        f = torch.float64 if dt == torch.float64 else torch.float32
        hs = y.to(f) * torch.nn.functional.silu(z.to(f))  # (..., d_in)  gate before the norm
        *lead, d = hs.shape
        hs = hs.reshape(*lead, self.groups, d // self.groups)  # (..., g, d_in / g)
        hs = hs * torch.rsqrt(hs.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * hs.reshape(*lead, d).to(dt)


class Mamba2Mixer(torch.nn.Module):
    """Mamba-2 mixer, transformers' Mamba2Mixer parameters: in_proj -> (z, xBC, dt), depthwise causal conv1d over xBC
    (+ SiLU), dt_bias, A_log (h,), D (h,), norm (gated, group-wise), out_proj."""

    def __init__(self, cfg):
        super().__init__()
        nn = torch.nn
        d = cfg["hidden_size"]
        self.h, self.p, self.n = cfg["num_heads"], cfg["head_dim"], cfg["state_size"]
        self.g = cfg.get("n_groups", 1)
        self.d_in = int(cfg.get("expand", 2) * d)
        assert self.d_in == self.h * self.p, f"expand * hidden_size ({self.d_in}) != num_heads * head_dim ({self.h * self.p})"
        assert self.h % self.g == 0, (self.h, self.g)
        self.chunk_size = cfg.get("chunk_size", 256)
        lim = cfg.get("time_step_limit", (0.0, float("inf")))
        self.dt_min, self.dt_max = json_float(lim[0]), json_float(lim[1])
        k = cfg.get("conv_kernel", 4)
        bias, conv_bias = cfg.get("use_bias", False), cfg.get("use_conv_bias", True)
        self.conv_dim = self.d_in + 2 * self.g * self.n
        self.in_proj = nn.Linear(d, self.d_in + self.conv_dim + self.h, bias=bias)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, k, groups=self.conv_dim, padding=k - 1, bias=conv_bias)
        self.dt_bias = nn.Parameter(torch.zeros(self.h))
        self.A_log = nn.Parameter(torch.zeros(self.h))
        self.D = nn.Parameter(torch.ones(self.h))
        self.norm = GatedRMSNorm(self.d_in, self.g, cfg.get("layer_norm_epsilon", 1e-5))
        self.out_proj = nn.Linear(self.d_in, d, bias=bias)

    def forward(self, u, chunk=None, collect=None):
        """u (b, l, d) -> (b, l, d). collect: a list to which Δ averaged over heads, (b, l) float32, is appended."""
        F = torch.nn.functional
        b, l, _ = u.shape
        h, p, n, g = self.h, self.p, self.n, self.g
        zxbcdt = self.in_proj(u)  # (b, l, d_in + conv_dim + h)
        z, xBC, dt = torch.split(zxbcdt, [self.d_in, self.conv_dim, h], dim=-1)  # (b, l, d_in), (b, l, conv_dim), (b, l, h)
        xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :l]).transpose(1, 2)  # (b, l, conv_dim)  causal conv
        x, B, C = torch.split(xBC, [self.d_in, g * n, g * n], dim=-1)  # (b, l, d_in), (b, l, g n), (b, l, g n)
        f = torch.float64 if self.A_log.dtype == torch.float64 else torch.float32
        dt = F.softplus(dt.to(f) + self.dt_bias.to(f)).clamp(self.dt_min, self.dt_max)  # (b, l, h)  Δ
        if collect is not None:
            collect.append(dt.detach().float().mean(-1))
        A = -torch.exp(self.A_log.to(f))  # (h,)
        xh = x.reshape(b, l, h, p)  # (b, l, h, p)
        y, _ = ssd_chunked(xh, dt, A, B.reshape(b, l, g, n), C.reshape(b, l, g, n), chunk or self.chunk_size)  # (b, l, h, p)
        y = y + xh.to(y.dtype) * self.D.to(y.dtype)[:, None]  # (b, l, h, p)  D skip
        y = self.norm(y.reshape(b, l, self.d_in), z)  # (b, l, d_in)
        return self.out_proj(y.to(self.out_proj.weight.dtype))  # (b, l, d)


class Mamba2Block(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = RMSNorm(cfg["hidden_size"], cfg.get("layer_norm_epsilon", 1e-5))
        self.mixer = Mamba2Mixer(cfg)
        self.residual_in_fp32 = cfg.get("residual_in_fp32", True)


class Mamba2Backbone(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = torch.nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = torch.nn.ModuleList(Mamba2Block(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm_f = RMSNorm(cfg["hidden_size"], cfg.get("layer_norm_epsilon", 1e-5))


class Mamba2LM(torch.nn.Module):
    """Mamba2ForCausalLM (pre-norm blocks, residual in fp32, final norm, head tied unless tie_word_embeddings is false)
    with the chunked SSD of ssd_chunked."""

    arch = "mamba2"

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.backbone = Mamba2Backbone(cfg)
        self.lm_head = torch.nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.tied = cfg.get("tie_word_embeddings", True)
        if self.tied:
            self.lm_head.weight = self.backbone.embeddings.weight

    def forward(self, input_ids, chunk=None, collect=None, **_):
        """input_ids (b, l) -> logits (b, l, V). chunk: Q (default: the config's chunk_size)."""
        bb = self.backbone
        hs = bb.embeddings(input_ids)  # (b, l, d)
        for layer in bb.layers:
            residual = hs
            u = layer.norm(hs.to(layer.norm.weight.dtype))  # (b, l, d)
            if layer.residual_in_fp32 and residual.dtype != torch.float64:
                residual = residual.to(torch.float32)
            hs = residual + layer.mixer(u, chunk=chunk, collect=collect)  # (b, l, d)
        hs = bb.norm_f(hs)
        return self.lm_head(hs.to(self.lm_head.weight.dtype))  # (b, l, V)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class NeoXAttention(torch.nn.Module):
    def __init__(self, d, n_heads, rotary_pct, base):
        super().__init__()
        self.n_heads, self.head_size = n_heads, d // n_heads
        self.rotary_ndims = int(self.head_size * rotary_pct)
        self.query_key_value = torch.nn.Linear(d, 3 * d, bias=True)
        self.dense = torch.nn.Linear(d, d, bias=True)
        inv = 1.0 / (base ** (torch.arange(0, self.rotary_ndims, 2, dtype=torch.int64).float() / self.rotary_ndims))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, x):
        F = torch.nn.functional
        Bsz, L, _ = x.shape
        hs, r = self.head_size, self.rotary_ndims
        qkv = self.query_key_value(x).view(Bsz, L, self.n_heads, 3 * hs).transpose(1, 2)  # (B, H, L, 3hs)
        q, k, v = qkv.chunk(3, dim=-1)
        # GPT-NeoX rotary on the first r dims of each head (rotate_half layout), angles in float32 (float64 stays)
        fd = torch.float64 if x.dtype == torch.float64 else torch.float32
        pos = torch.arange(L, device=x.device, dtype=fd)
        freqs = pos[:, None] * self.inv_freq.to(device=x.device, dtype=fd)[None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)

        def rope(t):
            tr, tp = t[..., :r], t[..., r:]
            return torch.cat([tr * cos + rotate_half(tr) * sin, tp], dim=-1)

        q, k = rope(q), rope(k)
        if hasattr(F, "scaled_dot_product_attention"):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch < 2.0 (local CPU tests)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
            mask = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)
            o = s.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return self.dense(o.transpose(1, 2).reshape(Bsz, L, -1))


class NeoXMLP(torch.nn.Module):
    def __init__(self, d, ffn):
        super().__init__()
        self.dense_h_to_4h = torch.nn.Linear(d, ffn)
        self.dense_4h_to_h = torch.nn.Linear(ffn, d)

    def forward(self, x):
        return self.dense_4h_to_h(torch.nn.functional.gelu(self.dense_h_to_4h(x)))


class NeoXLayer(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        rp = cfg["rope_parameters"]
        self.input_layernorm = torch.nn.LayerNorm(d, eps=eps)
        self.post_attention_layernorm = torch.nn.LayerNorm(d, eps=eps)
        self.attention = NeoXAttention(d, cfg["num_attention_heads"], rp["partial_rotary_factor"], rp["rope_theta"])
        self.mlp = NeoXMLP(d, cfg["intermediate_size"])

    def forward(self, x):  # parallel residual
        return x + self.attention(self.input_layernorm(x)) + self.mlp(self.post_attention_layernorm(x))


class NeoXBackbone(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_in = torch.nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = torch.nn.ModuleList(NeoXLayer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.final_layer_norm = torch.nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class NeoXLM(torch.nn.Module):
    """GPTNeoXForCausalLM (parallel residual, partial rotary, GELU, untied embed_out)."""

    arch = "pythia"

    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("use_parallel_residual", True), "only the parallel residual form is implemented"
        self.cfg = dict(cfg)
        self.gpt_neox = NeoXBackbone(cfg)
        self.embed_out = torch.nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, collect=None, **_):
        h = self.gpt_neox.embed_in(input_ids)
        for layer in self.gpt_neox.layers:
            h = layer(h)
        return self.embed_out(self.gpt_neox.final_layer_norm(h))


# --------------------------------------------------------------------------- safetensors without the library
_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path):
    """{name: numpy array} (float16/32/64, int); bf16 is widened to float32."""
    import struct

    import numpy as np

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        if v["dtype"] == "BF16":
            raw = np.frombuffer(data[a:b], dtype="<u2").astype(np.uint32) << 16
            out[k] = raw.view(np.float32).reshape(v["shape"])
        else:
            out[k] = np.frombuffer(data[a:b], dtype=_ST_DTYPES[v["dtype"]]).reshape(v["shape"]).copy()
    return out


def write_safetensors(tensors, path, metadata=None):
    """{name: numpy array} -> a .safetensors file (names sorted, 8-byte aligned header)."""
    import struct

    import numpy as np

    rev = {np.dtype(v).str: k for k, v in _ST_DTYPES.items()}
    hdr, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        hdr[k] = {"dtype": rev[a.dtype.newbyteorder("<").str], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        hdr["__metadata__"] = metadata
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
