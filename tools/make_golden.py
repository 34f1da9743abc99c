#!/usr/bin/env python3
"""Builds tiny RANDOM Mamba / GPT-NeoX (Pythia) models with transformers and writes them, saved exactly as
transformers writes them, with golden float64 reference outputs, in the Hugging Face hub URL layout:

    <root>/tiny-random/<repo>/resolve/main/{config.json, generation_config.json (when transformers writes one),
        model.safetensors | model-0000x-of-0000n.safetensors + model.safetensors.index.json,
        tokenizer.json, tokenizer_config.json, golden.json}

so that a static file server rooted at <root> answers /tiny-random/{repo}/resolve/main/{file}.

Nothing transformers writes is renamed, rewritten or removed: every repo is `save_pretrained` output, except
`pythia-state-dict`, which is saved the other way people save checkpoints: `safetensors.torch.save_file` of
`model.state_dict()` plus `config.save_pretrained` (its tensor names are the modules' names in the installed
transformers, e.g. `lm_head.weight` for the GPT-NeoX head in transformers >= 5.14). The tokenizer files are copied
byte for byte from the repo (--tokenizer; the GPU machine has no internet). golden.json is ours (format in
docs/demo-models.md, "Golden files").

  --out DIR              write the fixture tree into DIR (default tests/fixtures/hub; repos listed are replaced)
  --out FILE.tgz         write the tree into a temporary folder and pack it as ONE .tar.gz (entries
                         tiny-random/<repo>/...; unpack with `tar xzf FILE.tgz -C tests/fixtures/hub`), plus
                         FILE.tgz's folder/golden-summary.json. Parts of 15 MiB (FILE.tgz.part-00, ...) if larger.
  --only a,b             only these repos (default: all)

Needs torch, transformers 5.x, tokenizers, safetensors. CPU only (float64), about 30 s.
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys
import tarfile
import tempfile
import time
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_common as C  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORG = "tiny-random"
PROMPT_TEXT = (
    "In the beginning God created the heaven and the earth. "
    "The quick brown fox jumps over the lazy dog, and the pass key is 48213."
)
N_GREEDY = 16
LONG_LEN = 300
N_LONG_LAST = 5
PART_BYTES = 15 * 2**20  # the GPU machine returns files of at most 16 MiB


# ------------------------------------------------------------------------------------------------------ configs
def ssm_config_kwargs(vocab, hidden, state, layers, expand, conv, use_bias, conv_bias, tie):
    """The settings transformers' MambaConfig and Mamba2Config share (same names in both)."""
    return dict(
        vocab_size=vocab,
        hidden_size=hidden,
        state_size=state,
        num_hidden_layers=layers,
        expand=expand,
        conv_kernel=conv,
        use_bias=use_bias,
        use_conv_bias=conv_bias,
        hidden_act="silu",
        layer_norm_epsilon=1e-5,
        residual_in_fp32=True,
        tie_word_embeddings=tie,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )


def mamba_config(vocab, hidden=64, state=16, layers=2, use_bias=False, tie=True, conv=4, dt_rank="auto",
                 conv_bias=True, expand=2):
    from transformers import MambaConfig

    return MambaConfig(time_step_rank=dt_rank,
                       **ssm_config_kwargs(vocab, hidden, state, layers, expand, conv, use_bias, conv_bias, tie))


def pythia_config(vocab, parallel=True, rotary_pct=0.25, hidden=64, heads=4, layers=2, inter=256, tie=False):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=inter,
        hidden_act="gelu",
        max_position_embeddings=2048,
        layer_norm_eps=1e-5,
        use_parallel_residual=parallel,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": rotary_pct},
        tie_word_embeddings=tie,
        attention_bias=True,
        bos_token_id=0,
        eos_token_id=0,
    )


# Random models (name -> arch, config kwargs, first seed). The first four are the original fixtures (same
# shapes and seeds as before, so the same tokenizer gives the same weights); the rest are shapes transformers
# accepts that are not multiples of the kernels' tiles.
MODELS = {
    "mamba": ("mamba", dict(hidden=64, state=8, layers=2, use_bias=False, tie=True), 100),
    "mamba-bias": ("mamba", dict(hidden=48, state=16, layers=3, use_bias=True, tie=False), 200),
    "pythia": ("pythia", dict(parallel=True, rotary_pct=0.25), 300),
    "pythia-seq": ("pythia", dict(parallel=False, rotary_pct=0.5), 400),
    # d = 80 (not a multiple of 64), dt_rank "auto" = ceil(80/16) = 5, conv width 3, untied head
    "mamba-odd": ("mamba", dict(hidden=80, state=16, layers=2, conv=3, use_bias=False, tie=False), 500),
    # d = 50 (not a multiple of 4), dt_rank 3, N = 5, conv width 2, no conv bias, in/out_proj biases, tied head
    "mamba-ragged": ("mamba", dict(hidden=50, state=5, layers=2, conv=2, dt_rank=3, use_bias=True, conv_bias=False,
                                   tie=True), 600),
    # d = 80, 5 heads of 16, full rotary, MLP 180 (K % 8 = 4), parallel residual, tied head
    "pythia-odd": ("pythia", dict(hidden=80, heads=5, inter=180, rotary_pct=1.0, parallel=True, tie=True), 700),
    # d = 60, 3 heads of 20, rotary int(20 * 0.25) = 5 (odd), MLP 150 (K % 4 = 2), sequential residual, 3 layers
    "pythia-odd-rot": ("pythia", dict(hidden=60, heads=3, layers=3, inter=150, rotary_pct=0.25, parallel=False,
                                      tie=False), 800),
    # d = 50, 5 heads of 10 (head dim not a multiple of 4), rotary 4, MLP 130
    "pythia-hd10": ("pythia", dict(hidden=50, heads=5, inter=130, rotary_pct=0.4, parallel=True, tie=False), 900),
}

# Repos: name -> (model, weights dtype, max_shard_size or None, how it is saved)
REPOS = {
    "mamba": ("mamba", torch.float32, None, "save_pretrained"),
    "mamba-f16": ("mamba", torch.float16, None, "save_pretrained"),
    "mamba-bf16": ("mamba", torch.bfloat16, None, "save_pretrained"),
    "mamba-bias": ("mamba-bias", torch.float32, None, "save_pretrained"),
    "pythia": ("pythia", torch.float32, None, "save_pretrained"),
    "pythia-f16": ("pythia", torch.float16, None, "save_pretrained"),
    "pythia-bf16": ("pythia", torch.bfloat16, None, "save_pretrained"),
    "pythia-sharded": ("pythia", torch.float32, "200KB", "save_pretrained"),
    "pythia-seq": ("pythia-seq", torch.float32, None, "save_pretrained"),
    "pythia-state-dict": ("pythia", torch.float32, None, "state_dict"),
    "mamba-odd": ("mamba-odd", torch.float32, None, "save_pretrained"),
    "mamba-ragged": ("mamba-ragged", torch.float32, None, "save_pretrained"),
    "pythia-odd": ("pythia-odd", torch.float32, None, "save_pretrained"),
    "pythia-odd-rot": ("pythia-odd-rot", torch.float32, None, "save_pretrained"),
    "pythia-hd10": ("pythia-hd10", torch.float32, None, "save_pretrained"),
}


# ------------------------------------------------------------------------------------------------------ weights
def dt_bias_init(shape, g):
    """The dt bias of the reference Mamba / Mamba-2 init: softplus(bias) = Δ log-uniform in [1e-3, 1e-1]."""
    dt = torch.exp(torch.rand(shape, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
    return dt + torch.log(-torch.expm1(-dt))


@torch.no_grad()
def randomize_mamba_like(model, seed, in_std, out_std, init_ssm):
    """Random weights of a transformers Mamba / Mamba-2 LM: the embeddings; per layer the pre-norm, in_proj, conv1d,
    then init_ssm(mixer, n, g) for the architecture's own parameters (n(shape, std, mean=0) draws normals, g is the
    generator), out_proj; the final norm and an untied head. The draws come in this order from one generator seeded
    with `seed` (the order fixes the fixtures' weights)."""
    g = torch.Generator().manual_seed(seed)
    n = lambda shape, std, mean=0.0: torch.randn(shape, generator=g) * std + mean  # noqa: E731
    bb = model.backbone
    bb.embeddings.weight.copy_(n(bb.embeddings.weight.shape, 0.3))
    for layer in bb.layers:
        m = layer.mixer
        layer.norm.weight.copy_(n(layer.norm.weight.shape, 0.1, 1.0))
        m.in_proj.weight.copy_(n(m.in_proj.weight.shape, in_std))
        if m.in_proj.bias is not None:
            m.in_proj.bias.copy_(n(m.in_proj.bias.shape, 0.1))
        m.conv1d.weight.copy_(n(m.conv1d.weight.shape, 0.3))
        if m.conv1d.bias is not None:
            m.conv1d.bias.copy_(n(m.conv1d.bias.shape, 0.1))
        init_ssm(m, n, g)
        m.out_proj.weight.copy_(n(m.out_proj.weight.shape, out_std))
        if m.out_proj.bias is not None:
            m.out_proj.bias.copy_(n(m.out_proj.bias.shape, 0.1))
    bb.norm_f.weight.copy_(n(bb.norm_f.weight.shape, 0.1, 1.0))
    if not model.config.tie_word_embeddings:
        model.lm_head.weight.copy_(n(model.lm_head.weight.shape, 0.3))
    check_tied(model)


def randomize_mamba(model, seed):
    N = model.config.state_size

    def init_ssm(m, n, g):  # x_proj, dt_proj, A_log = log(1..N) + noise, D
        m.x_proj.weight.copy_(n(m.x_proj.weight.shape, 0.15))
        m.dt_proj.weight.copy_(n(m.dt_proj.weight.shape, 0.2))
        m.dt_proj.bias.copy_(dt_bias_init(m.dt_proj.bias.shape, g))
        A = torch.arange(1, N + 1, dtype=torch.float32)[None, :].expand(m.A_log.shape[0], N)
        m.A_log.copy_(torch.log(A) + n(m.A_log.shape, 0.1))
        m.D.copy_(n(m.D.shape, 0.1, 1.0))

    randomize_mamba_like(model, seed, 0.2, 0.1, init_ssm)


@torch.no_grad()
def randomize_pythia(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():  # a tied head shares embed_in's parameter and is not listed again
        if "layernorm" in name or "layer_norm" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        elif "embed_in" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        elif "embed_out" in name or "lm_head" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        else:  # linear weights (out, in)
            p.copy_(torch.randn(p.shape, generator=g) * (1.5 / math.sqrt(p.shape[1])))
    check_tied(model)


def check_tied(model):
    """The golden logits must come from the model the config describes: a tied head IS the input embedding."""
    same = model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    if bool(model.config.tie_word_embeddings) != same:
        raise AssertionError(f"tie_word_embeddings={model.config.tie_word_embeddings} but the head "
                             f"{'is' if same else 'is not'} the input embedding")


def load_f64(cls, repo_dir, arch):
    kw = {"attn_implementation": "eager"} if arch == "pythia" else {}
    m = cls.from_pretrained(repo_dir, **kw)
    return m.to(torch.float64).eval()


# ------------------------------------------------------------------------------------------------------ golden
@torch.no_grad()
def greedy(model, ids, n, arch):
    """n greedy tokens using the model's cache; returns (tokens, [logits per step])."""
    logits, out = C.hf_forward(model, arch, torch.tensor([ids]), use_cache=True)
    logits = logits[0, -1]
    toks, steps = [], []
    cur = len(ids)
    for i in range(n):
        t = int(torch.argmax(logits))
        toks.append(t)
        steps.append(logits.clone())
        if i == n - 1:
            break
        inp = torch.tensor([[t]])
        if arch in ("mamba", "mamba2"):
            kw = {"cache_params": out.cache_params, "use_cache": True, "cache_position": torch.tensor([cur])}
        else:
            kw = {"past_key_values": out.past_key_values, "use_cache": True}
        logits, out = C.hf_forward(model, arch, inp, **kw)
        logits = logits[0, -1]
        cur += 1
    return toks, steps


@torch.no_grad()
def greedy_nocache(model, ids, n, arch):
    seq = list(ids)
    toks, steps = [], []
    for _ in range(n):
        logits = C.hf_forward(model, arch, torch.tensor([seq]), use_cache=False)[0][0, -1]
        t = int(torch.argmax(logits))
        toks.append(t)
        steps.append(logits.clone())
        seq.append(t)
    return toks, steps


@torch.no_grad()
def checked_greedy(model, arch, prompt_ids, tol, repo_id):
    """N_GREEDY greedy tokens twice: recomputed without cache, and with the model's cache; the two must give the same
    ids and logits within tol. A disagreement (or a failing cached path) is printed loudly and recorded, not raised:
    the fixture is kept. Returns ((ids, logits) without cache, (ids, logits) with cache or None where they disagree,
    the greedy_cache_* checks)."""
    n_ids, n_logits = greedy_nocache(model, prompt_ids, N_GREEDY, arch)
    cached, cache_error, diff_cache = None, None, None
    try:
        c_ids, c_logits = greedy(model, prompt_ids, N_GREEDY, arch)
        diff_cache = max(float((a - b).abs().max()) for a, b in zip(c_logits, n_logits))
        assert c_ids == n_ids, f"{repo_id}: greedy with cache {c_ids} != without {n_ids}"
        assert diff_cache < tol, f"{repo_id}: cache/no-cache logits differ by {diff_cache}"
        cached = (c_ids, c_logits)
    except Exception as e:  # keep the fixture; report loudly
        traceback.print_exc()
        cache_error = f"{type(e).__name__}: {e}"
        print(f"WARNING {repo_id}: cached greedy disagrees or failed ({cache_error}); the golden greedy logits are "
              f"the no-cache recompute", flush=True)
    checks = {
        "greedy_cache_equals_nocache": cache_error is None,
        "greedy_cache_error": cache_error,
        "max_abs_diff_cache_vs_nocache": diff_cache,
    }
    return (n_ids, n_logits), cached, checks


@torch.no_grad()
def long_logits(model, arch, V):
    """LONG_LEN random ids (seeded, never 0) and the model's logits at the last N_LONG_LAST positions."""
    gen = torch.Generator().manual_seed(1234)
    long_ids = torch.randint(1, V, (LONG_LEN,), generator=gen).tolist()
    return long_ids, C.hf_forward(model, arch, torch.tensor([long_ids]), use_cache=False)[0][0, -N_LONG_LAST:]


def logit_checks(logits, g_logits):
    """How good a decode test the golden is: prompt logits spread, distinct argmaxes, the smallest greedy margin."""
    return {
        "prompt_logits_std": float(logits.std()),
        "distinct_argmax_over_prompt": int(len(set(logits.argmax(-1).tolist()))),
        "greedy_min_top1_top2_margin": min(float(v.topk(2).values[0] - v.topk(2).values[1]) for v in g_logits),
    }


def golden_json(model, tok, repo_id, weights_dtype, prompt_ids, logits, greedy_ids, greedy_logits, long_ids,
                long_last_logits, checks):
    """golden.json ("mamba-vs-transformer golden v1", docs/demo-models.md): logits (L, V) over the prompt, the
    greedy tokens with their logits, the last N_LONG_LAST logits over LONG_LEN random ids, tokenizer cases."""
    V = model.config.vocab_size
    return {
        "format": "mamba-vs-transformer golden v1",
        "model": repo_id,
        "architecture": model.config.architectures[0] if model.config.architectures else type(model).__name__,
        "weights_dtype": weights_dtype,
        "reference_dtype": "float64",
        "vocab_size": V,
        "prompt_text": PROMPT_TEXT,
        "prompt_ids": prompt_ids,
        "logits_shape": list(logits.shape),
        "logits": C.r7(logits.flatten().tolist()),
        "greedy_ids": greedy_ids,
        "greedy_logits_shape": [len(greedy_logits), V],
        "greedy_logits": C.r7(torch.stack(greedy_logits).flatten().tolist()),
        "long_ids": long_ids,
        "long_last_positions": list(range(LONG_LEN - N_LONG_LAST, LONG_LEN)),
        "long_last_logits_shape": [N_LONG_LAST, V],
        "long_last_logits": C.r7(long_last_logits.flatten().tolist()),
        "tokenizer_cases": C.tokenizer_cases(tok),
        "checks": checks,
    }


@torch.no_grad()
def make_golden(model, arch, tok, repo_id, weights_dtype):
    V = model.config.vocab_size
    prompt_ids = tok.encode(PROMPT_TEXT).ids
    logits = C.hf_forward(model, arch, torch.tensor([prompt_ids]), use_cache=False)[0][0]  # (L, V)
    assert logits.dtype == torch.float64, logits.dtype
    # transformers' cached Mamba decode path is not float64-exact: with a cache the float64 logits agree with the
    # recompute only to ~1e-6 (float32 level), so the golden greedy logits of Mamba come from the float64
    # recompute without cache (the greedy ids must still agree).
    nocache, cached, checks = checked_greedy(model, arch, prompt_ids, 1e-5 if arch == "mamba" else 1e-8, repo_id)
    if arch == "mamba" or cached is None:
        (g_ids, g_logits), source = nocache, "float64 recompute without cache"
    else:
        (g_ids, g_logits), source = cached, "float64 decode with cache"
    assert torch.allclose(g_logits[0], logits[-1], atol=1e-10)
    long_ids, long_last = long_logits(model, arch, V)
    checks = {**checks, "greedy_logits_source": source, **logit_checks(logits, g_logits)}
    if arch == "mamba":
        # independent chunked-scan implementation (tools/lm_common.py), pure float64
        ref = C.mamba_logits_fast(model, torch.tensor([prompt_ids]))[0]
        checks["max_abs_diff_vs_independent_impl"] = float((ref - logits).abs().max())
        ref_long = C.mamba_logits_fast(model, torch.tensor([long_ids]))[0, -N_LONG_LAST:]
        checks["max_abs_diff_vs_independent_impl_long"] = float((ref_long - long_last).abs().max())
    return golden_json(model, tok, repo_id, weights_dtype, prompt_ids, logits, g_ids, g_logits, long_ids, long_last,
                       checks)


# ------------------------------------------------------------------------------------------------------ saving
def save_repo(model, tok_files, root, repo, dtype, max_shard_size, how):
    """Writes the repo folder exactly as transformers writes it (nothing renamed, rewritten or removed), then the
    repo's tokenizer files byte for byte."""
    repo_dir = os.path.join(root, ORG, repo, "resolve", "main")
    if os.path.exists(repo_dir):
        shutil.rmtree(repo_dir)
    os.makedirs(repo_dir)
    m = copy.deepcopy(model).to(dtype)
    if how == "save_pretrained":
        kw = {"max_shard_size": max_shard_size} if max_shard_size else {}
        m.save_pretrained(repo_dir, **kw)
    elif how == "state_dict":
        from safetensors.torch import save_file

        assert not m.config.tie_word_embeddings, "save_file refuses shared tensors: use an untied model"
        m.config.save_pretrained(repo_dir)
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, os.path.join(repo_dir, "model.safetensors"),
                  metadata={"format": "pt"})
    else:
        raise ValueError(how)
    for name, data in tok_files.items():
        with open(os.path.join(repo_dir, name), "wb") as f:
            f.write(data)
    return repo_dir


def repo_tokenizer(path, corpus):
    """(tokenizers.Tokenizer, {file name: bytes}) from the repo's tokenizer.json (+ tokenizer_config.json beside
    it); trains the same byte-level BPE from the corpus only when that file is missing."""
    from tokenizers import Tokenizer

    if os.path.exists(path):
        files = {"tokenizer.json": open(path, "rb").read()}
        cfg = os.path.join(os.path.dirname(path), "tokenizer_config.json")
        if os.path.exists(cfg):
            files["tokenizer_config.json"] = open(cfg, "rb").read()
        tok = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
        print(f"tokenizer: {os.path.relpath(path, REPO_ROOT)} (vocab {tok.get_vocab_size()})", flush=True)
        if "tokenizer_config.json" in files:
            return tok, files
    else:
        print(f"WARNING: {path} not found; training the BPE tokenizer from {corpus}", flush=True)
        with open(corpus, encoding="utf-8") as f:
            paras = [p for p in f.read().split("\n\n") if p.strip()]
        tok = C.train_bpe_tokenizer(paras, vocab_size=512)
        files = {}
    with tempfile.TemporaryDirectory() as d:
        C.save_tokenizer(tok, d)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            files.setdefault(name, open(os.path.join(d, name), "rb").read())
    return tok, files


def head_key(tensors):
    keys = {k for f in tensors.values() for k in f}
    return [k for k in ("embed_out.weight", "lm_head.weight") if k in keys]


def pack(root, out_path, repos):
    """One .tar.gz of tiny-random/<repo>/... (parts of PART_BYTES when larger). Returns the written paths."""
    with tarfile.open(out_path, "w:gz", compresslevel=9) as tar:
        for repo in repos:
            tar.add(os.path.join(root, ORG, repo), arcname=f"{ORG}/{repo}")
    size = os.path.getsize(out_path)
    if size <= PART_BYTES:
        return [out_path]
    parts = []
    with open(out_path, "rb") as f:
        i = 0
        while True:
            chunk = f.read(PART_BYTES)
            if not chunk:
                break
            p = f"{out_path}.part-{i:02d}"
            with open(p, "wb") as g:
                g.write(chunk)
            parts.append(p)
            i += 1
    os.remove(out_path)
    print(f"{out_path} is {size} bytes: split into {len(parts)} parts; join with "
          f"`cat {os.path.basename(out_path)}.part-* > {os.path.basename(out_path)}`", flush=True)
    return parts


def save_and_reload(model, tok_files, root, repo, dtype, max_shard_size, how, load_f64):
    """save_repo, then load_f64(repo_dir) -> the saved model in float64, which must equal the in-memory one rounded to
    `dtype` (catches keys transformers did not recognise on load and silently re-initialised). Returns (repo_dir,
    sorted file names, the float64 model)."""
    repo_dir = save_repo(model, tok_files, root, repo, dtype, max_shard_size, how)
    files = sorted(os.listdir(repo_dir))
    if max_shard_size:
        n_shards = len([f for f in files if f.startswith("model-") and f.endswith(".safetensors")])
        assert n_shards >= 2 and "model.safetensors.index.json" in files, files
    m64 = load_f64(repo_dir)
    ref_sd = {k: v.to(dtype).to(torch.float64) for k, v in model.state_dict().items()}
    for k, v in m64.state_dict().items():
        assert torch.equal(v, ref_sd[k]), f"{repo}: reloaded tensor {k} differs"
    return repo_dir, files, m64


# ------------------------------------------------------------------------------------------------------ main
def parse_args(doc):
    """The command line of every golden script: --out, --tokenizer, --text, --only (see this module's doc)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "tests/fixtures/hub"))
    ap.add_argument("--tokenizer", default=os.path.join(REPO_ROOT, "tests/fixtures/hub/tiny-random/mamba/resolve/main/tokenizer.json"))
    ap.add_argument("--text", default=os.path.join(REPO_ROOT, "tools/corpus/tiny_english.txt"),
                    help="corpus for training the tokenizer, only when --tokenizer does not exist")
    ap.add_argument("--only", default="", help="comma-separated repo names (default: all)")
    return ap.parse_args()


@torch.no_grad()
def pick_seed(name, arch, base_seed, prompt_ids, make):
    """Random weights: make(seed) -> a model randomised with that seed (after torch.manual_seed(seed)). Among a few
    seeds take one whose greedy continuation of the prompt is varied (random models easily fall into repeating one
    token, a weak decode test) with a safe top-1/top-2 margin."""
    best = None
    for seed in range(base_seed, base_seed + 24):
        torch.manual_seed(seed)
        model = make(seed)
        seq, margin = list(prompt_ids), float("inf")
        for _ in range(N_GREEDY):
            last = C.hf_forward(model, arch, torch.tensor([seq]), use_cache=False)[0][0, -1]
            top2 = last.topk(2).values
            margin = min(margin, float(top2[0] - top2[1]))
            seq.append(int(last.argmax()))
        n_distinct = len(set(seq[len(prompt_ids):]))
        score = n_distinct if margin >= 0.01 else n_distinct - 100
        if best is None or score > best[0]:
            best = (score, seed, model, n_distinct, margin)
        if n_distinct >= 10 and margin >= 0.01:
            break
    print(f"model {name}: seed {best[1]}, {best[3]} distinct greedy tokens, min top1-top2 margin {best[4]:.4f}",
          flush=True)
    return best[2]


class GoldenRun:
    """One run of a golden script (this one, make_golden_mamba2.py): the command line, the library versions, the
    repos asked for, the tokenizer and prompt, the folder the repos are written to (a temporary one packed at the end
    for --out FILE.tgz), each repo written and checked, the summary."""

    def __init__(self, doc, known_repos, tmp_prefix, summary_name, **more_versions):
        self.args = args = parse_args(doc)
        self.t0 = time.time()
        torch.set_num_threads(min(4, os.cpu_count() or 1))
        import safetensors
        import tokenizers
        import transformers

        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__, **more_versions,
                         "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__}
        print(f"versions: {self.versions}", flush=True)
        self.repos = [r for r in args.only.split(",") if r] or list(known_repos)
        for r in self.repos:
            if r not in known_repos:
                sys.exit(f"unknown repo {r!r}; known: {', '.join(known_repos)}")
        self.tok, self.tok_files = repo_tokenizer(args.tokenizer, args.text)  # before anything under --out is replaced
        self.vocab = self.tok.get_vocab_size()
        self.prompt_ids = self.tok.encode(PROMPT_TEXT).ids
        print(f"prompt -> {len(self.prompt_ids)} tokens", flush=True)
        self.tmp = tempfile.mkdtemp(prefix=tmp_prefix) if args.out.endswith((".tgz", ".tar.gz")) else None
        self.root = self.tmp or args.out
        os.makedirs(self.root, exist_ok=True)
        self.summary_name = summary_name
        self.models = {}

    def write_repo(self, repo, model_name, build, dtype, shard, how, load_f64, golden, config_keys=()):
        """One repo: the model `model_name` (build(model_name) the first time), saved and reloaded (save_and_reload;
        load_f64(repo_dir) -> the saved model in float64), its golden.json (golden(float64 model, repo id, weights
        dtype name)). Returns the repo's summary entry (printed too), with the config.json entries config_keys."""
        t1 = time.time()
        if model_name not in self.models:
            self.models[model_name] = build(model_name)
        model = self.models[model_name]
        repo_dir, files, m64 = save_and_reload(model, self.tok_files, self.root, repo, dtype, shard, how, load_f64)
        gold = golden(m64, f"{ORG}/{repo}", str(dtype).replace("torch.", ""))
        C.dump_json(gold, os.path.join(repo_dir, "golden.json"))
        tensors = C.safetensors_keys(repo_dir)
        config = C.read_json(os.path.join(repo_dir, "config.json"))
        s = {
            "saved_with": how,
            "params": C.count_params(model),
            "head_key": head_key(tensors),
            "config_dtype": config.get("dtype", config.get("torch_dtype")),
            **{f"{k}_in_config_json": config.get(k) for k in config_keys},
            "tensors": tensors,
            "files": files,
            "bytes": sum(os.path.getsize(os.path.join(repo_dir, f)) for f in files),
            "greedy_ids": gold["greedy_ids"],
            "checks": gold["checks"],
            "seconds": round(time.time() - t1, 2),
        }
        print(f"{ORG}/{repo}: {s['params']} params, head {s['head_key']}, config dtype {s['config_dtype']}, "
              + "".join(f"{k} {json.dumps(config.get(k))}, " for k in config_keys)
              + f"files {files}, {s['bytes']} bytes, greedy {s['greedy_ids']}, checks {json.dumps(s['checks'])} "
              f"({s['seconds']} s)", flush=True)
        return s

    def write_all(self, write):
        """write(repo) -> its summary entry, for every repo asked for; one bad shape must not cost the other fixtures,
        so a failure is printed and recorded. Then, for --out FILE.tgz, packs the written repos into FILE.tgz (parts
        when large) with the summary file beside it. Exits 1 if any repo failed."""
        summary, failures = {}, {}
        for repo in self.repos:
            try:
                summary[repo] = write(repo)
            except Exception as e:
                traceback.print_exc()
                failures[repo] = f"{type(e).__name__}: {e}"
                print(f"FAILED {ORG}/{repo}: {failures[repo]}", flush=True)
        if self.tmp:
            result = {"versions": self.versions, "prompt_tokens": len(self.prompt_ids), "repos": summary,
                      "failures": failures, "seconds": round(time.time() - self.t0, 1)}
            out_dir = os.path.dirname(os.path.abspath(self.args.out))
            os.makedirs(out_dir, exist_ok=True)
            result["archives"] = [os.path.basename(p) for p in pack(self.tmp, self.args.out, list(summary))]
            with open(os.path.join(out_dir, self.summary_name), "w") as f:
                json.dump(result, f, indent=1)
            shutil.rmtree(self.tmp)
            print(f"wrote {result['archives']} ({len(summary)} repos) and {self.summary_name} to {out_dir}", flush=True)
        total = sum(s["bytes"] for s in summary.values())
        print(f"total fixture bytes: {total}; {len(summary)} repos written, {len(failures)} failed "
              f"{sorted(failures)} ({time.time() - self.t0:.1f}s)", flush=True)
        if failures:
            sys.exit(1)


def main():
    run = GoldenRun(__doc__, REPOS, "golden-", "golden-summary.json")
    from transformers import GPTNeoXForCausalLM, MambaForCausalLM

    classes = {"mamba": (MambaForCausalLM, randomize_mamba), "pythia": (GPTNeoXForCausalLM, randomize_pythia)}

    def build(name):
        arch, kw, base_seed = MODELS[name]
        cls, randomize = classes[arch]
        cfg = (mamba_config if arch == "mamba" else pythia_config)(run.vocab, **kw)

        def make(seed):
            model = cls(copy.deepcopy(cfg)).eval()
            randomize(model, seed)
            return model

        return pick_seed(name, arch, base_seed, run.prompt_ids, make)

    def write(repo):
        model_name, dtype, shard, how = REPOS[repo]
        arch = MODELS[model_name][0]
        return run.write_repo(repo, model_name, build, dtype, shard, how,
                              lambda d: load_f64(classes[arch][0], d, arch),
                              lambda m64, repo_id, wd: make_golden(m64, arch, run.tok, repo_id, wd))

    run.write_all(write)


if __name__ == "__main__":
    main()
