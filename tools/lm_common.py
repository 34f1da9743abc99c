"""Shared helpers for tools/make_golden.py and tools/train_demo.py.

* byte-level BPE tokenizer in the GPT-NeoX tokenizer.json style (tokenizers library),
* an independent, chunked-parallel implementation of the Mamba-1 forward pass that
  reads the parameters of a transformers MambaForCausalLM (used to train fast without
  the mamba-ssm CUDA kernels, and as a cross-check for the golden logits),
* JSON helpers.
"""
import json
import math
import os

EOT = "<|endoftext|>"


# --------------------------------------------------------------------------- tokenizer
def train_bpe_tokenizer(texts, vocab_size, min_frequency=2):
    """Byte-level BPE like GPT-NeoX: NFC normalizer, ByteLevel pre-tokenizer (no prefix
    space, GPT-2 regex), ByteLevel post-processor and decoder, <|endoftext|> = id 0."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
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


def mamba_mixer_fast(m, x, chunk=16, scan=None):
    """Same math as transformers' MambaMixer.slow_forward without cache (x: (B, L, d))."""
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
    A = -torch.exp(m.A_log.to(sd))
    y = (scan or selective_scan)(hs.to(sd), dt, A, Bm.to(sd), Cm.to(sd), chunk=chunk)
    y = y + hs.to(sd) * m.D.to(sd)[None, :, None]
    y = y * m.act(gate.to(sd))
    return m.out_proj(y.transpose(1, 2).to(m.out_proj.weight.dtype))


def mamba_logits_fast(model, input_ids, chunk=16, scan=None):
    """Full MambaForCausalLM forward (no cache) using mamba_mixer_fast."""
    import torch

    bb = model.backbone
    h = bb.embeddings(input_ids)
    for layer in bb.layers:
        residual = h
        x = layer.norm(h.to(layer.norm.weight.dtype))
        if layer.residual_in_fp32 and residual.dtype != torch.float64:
            residual = residual.to(torch.float32)
        h = residual + mamba_mixer_fast(layer.mixer, x, chunk=chunk, scan=scan)
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
